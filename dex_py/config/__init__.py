"""Configuration: Dex's ``config.yaml`` schema as typed dataclasses, loaded and validated.

``loader.load(path)`` parses the YAML, expands ``$VAR``/``${VAR}`` in the parsed string values of
``storage.config`` and ``connectors[].config`` (never in raw YAML text), honours ``idEnv``,
``secretEnv`` and ``hashFromEnv``, and returns a ``Config``. ``validation.validate`` reports *all*
problems at once, each with its key path (``staticClients[1].redirectURIs: required``);
unknown keys are warnings. Our own additions live under new top-level keys and never change a
Dex key's meaning.

The package: ``model`` (the dataclasses, ``ConfigError`` and the schema's constants, re-exported
here, so that every layer may import ``dex_py.config`` cheaply); ``loader`` (``load``,
``load_string``, ``from_dict``) over ``reader``, ``sections``, ``envexpand`` and ``durations``;
``validation`` (the rules, calling the owners of ``storage.config``, client JWK Sets and our own
sections ``teams`` and ``session``). Only the command line (``cli.common``) and tests load a
config file; ``create_app`` takes a loaded ``Config``.
"""

from dex_py.config.model import *  # noqa: F403  (the model is this package's interface)
from dex_py.config.model import __all__ as __all__

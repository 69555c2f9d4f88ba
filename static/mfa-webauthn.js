// WebAuthn ceremonies of the mfa pages (dex_py.mfa.passkeys): a form with data-webauthn
// ("create" or "get") and data-options (the server's JSON options) runs the ceremony when
// submitted, puts the browser's answer (JSON, binary fields base64url) in its hidden "webauthn"
// input, and then submits for real. No inline script: the CSP allows only 'self'.
(function () {
  "use strict";

  function toBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function decodeOptions(options) {
    options.challenge = toBytes(options.challenge);
    if (options.user) { options.user.id = toBytes(options.user.id); }
    ["excludeCredentials", "allowCredentials"].forEach(function (name) {
      (options[name] || []).forEach(function (c) { c.id = toBytes(c.id); });
    });
    return options;
  }

  function encodeCredential(cred) {
    var r = cred.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      if (r.getTransports) { response.transports = r.getTransports(); }
    }
    if (r.authenticatorData) {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) { response.userHandle = toText(r.userHandle); }
    }
    return JSON.stringify({
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      response: response,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    });
  }

  document.querySelectorAll("form[data-webauthn]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var field = form.querySelector('input[name="webauthn"]');
      if (field.value) { return; }  // the ceremony is done: submit for real
      event.preventDefault();
      var options = decodeOptions(JSON.parse(form.getAttribute("data-options")));
      var ceremony = form.getAttribute("data-webauthn") === "create"
        ? navigator.credentials.create({ publicKey: options })
        : navigator.credentials.get({ publicKey: options });
      var status = form.querySelector(".webauthn-status");
      ceremony.then(function (cred) {
        field.value = encodeCredential(cred);
        form.submit();
      }).catch(function (err) {
        if (status) { status.textContent = "The passkey did not answer (" + err.name + ")."; }
      });
    });
  });
})();

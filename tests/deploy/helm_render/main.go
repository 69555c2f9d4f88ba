// Command helm_render renders a Helm chart's templates the way `helm template` does, with Go's
// own text/template (the engine Helm uses) and the few Helm/Sprig functions the dex-py chart
// calls, written here from their documented behaviour. The helm tool is not installed on the
// project's machines; tests/deploy/helm.py feeds this program and checks what comes out.
//
// Input (stdin, JSON): {"templates": {"<chart>/templates/<file>": "<text>"}, "values": {...},
// "chart": {"Name", "Version", "AppVersion"}, "release": {"Name", "Namespace", "Service", ...}}.
// The values arrive already merged and decoded as JSON (numbers become float64, as in Helm,
// which reads values through JSON too). Output (stdout, JSON): {"<file>": "<rendered text>"} for
// every template whose base name does not start with "_". Any template error exits 1.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/template"
)

type input struct {
	Templates map[string]string      `json:"templates"`
	Values    map[string]interface{} `json:"values"`
	Chart     map[string]interface{} `json:"chart"`
	Release   map[string]interface{} `json:"release"`
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fail(err)
	}
	out, err := render(in)
	if err != nil {
		fail(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func render(in input) (map[string]string, error) {
	root := template.New("chart")
	funcs := functions(root)
	root.Funcs(funcs).Option("missingkey=zero")
	names := make([]string, 0, len(in.Templates))
	for name := range in.Templates {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, err := root.New(name).Funcs(funcs).Parse(in.Templates[name]); err != nil {
			return nil, err
		}
	}
	out := map[string]string{}
	for _, name := range names {
		if strings.HasPrefix(path.Base(name), "_") {
			continue
		}
		data := map[string]interface{}{
			"Values":   in.Values,
			"Chart":    in.Chart,
			"Release":  in.Release,
			"Template": map[string]interface{}{"Name": name, "BasePath": path.Dir(name)},
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return nil, err
		}
		// Helm prints a missing value as nothing, not as "<no value>".
		out[name] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out, nil
}

func functions(root *template.Template) template.FuncMap {
	return template.FuncMap{
		"include": func(name string, data interface{}) (string, error) {
			var buf bytes.Buffer
			err := root.ExecuteTemplate(&buf, name, data)
			return buf.String(), err
		},
		"toYaml": func(v interface{}) string {
			return strings.TrimSuffix(toYAML(v, 0), "\n")
		},
		"nindent": func(n int, s string) string { return "\n" + indent(n, s) },
		"indent":  indent,
		"quote": func(args ...interface{}) string {
			quoted := []string{}
			for _, a := range args {
				if a != nil {
					quoted = append(quoted, fmt.Sprintf("%q", str(a)))
				}
			}
			return strings.Join(quoted, " ")
		},
		"default": func(fallback interface{}, given ...interface{}) interface{} {
			if len(given) == 0 || empty(given[0]) {
				return fallback
			}
			return given[0]
		},
		"empty": empty,
		"trunc": func(n int, s string) string {
			if n >= 0 && len(s) > n {
				return s[:n]
			}
			if n < 0 && len(s) > -n {
				return s[len(s)+n:]
			}
			return s
		},
		"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
		"contains":   func(substr, s string) bool { return strings.Contains(s, substr) },
		"required": func(message string, v interface{}) (interface{}, error) {
			if v == nil || v == "" {
				return nil, errors.New(message)
			}
			return v, nil
		},
		"fail":      func(message string) (string, error) { return "", errors.New(message) },
		"b64enc":    func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"sha256sum": func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) },
	}
}

func str(v interface{}) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

func indent(n int, s string) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

// empty is Sprig's: nil, false, 0, "" and empty collections are empty.
func empty(v interface{}) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.String, reflect.Map, reflect.Slice, reflect.Array:
		return r.Len() == 0
	case reflect.Bool:
		return !r.Bool()
	case reflect.Float32, reflect.Float64:
		return r.Float() == 0
	case reflect.Int, reflect.Int64, reflect.Int32:
		return r.Int() == 0
	}
	return false
}

// toYAML writes JSON-shaped data as block YAML, keys sorted, every string double-quoted (JSON
// escapes are valid YAML), so the document means what Helm's toYaml output means.
func toYAML(v interface{}, level int) string {
	pad := strings.Repeat("  ", level)
	switch t := v.(type) {
	case map[string]interface{}:
		if len(t) == 0 {
			return "{}\n"
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(pad + scalar(k) + ":")
			b.WriteString(nested(t[k], level+1))
		}
		return b.String()
	case []interface{}:
		if len(t) == 0 {
			return "[]\n"
		}
		var b strings.Builder
		for _, item := range t {
			body := toYAML(item, level+1)
			if isCollection(item) {
				body = strings.TrimPrefix(body, strings.Repeat("  ", level+1))
			}
			b.WriteString(pad + "- " + body)
		}
		return b.String()
	default:
		return scalar(v) + "\n"
	}
}

func nested(v interface{}, level int) string {
	if isCollection(v) {
		return "\n" + toYAML(v, level)
	}
	return " " + toYAML(v, level)
}

func isCollection(v interface{}) bool {
	switch t := v.(type) {
	case map[string]interface{}:
		return len(t) > 0
	case []interface{}:
		return len(t) > 0
	}
	return false
}

func scalar(v interface{}) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(t)
	case float64:
		if t == float64(int64(t)) {
			return strconv.FormatInt(int64(t), 10)
		}
		return strconv.FormatFloat(t, 'g', -1, 64)
	case string:
		quoted, _ := json.Marshal(t)
		return string(quoted)
	}
	quoted, _ := json.Marshal(fmt.Sprint(v))
	return string(quoted)
}

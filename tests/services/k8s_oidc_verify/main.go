// Command k8s-oidc-verify decides whether kube-apiserver would accept an ID token.
//
// kube-apiserver's OIDC authenticator (the --oidc-* flags, see the Kubernetes docs
// "Authenticating: OpenID Connect Tokens") verifies tokens with github.com/coreos/go-oidc;
// this program uses the same library so that the kubectl tests (tests/kube_cli) check
// dex-py's tokens with a real third-party verifier. Built by tests/services/k8s_oidc_verify.py.
//
// Usage: k8s-oidc-verify -issuer URL -client-id ID [options] < id-token
//
// Output: one JSON object on stdout.
//
//	{"authenticated": true, "user": {"username": ..., "groups": [...]}, "audiences": [...]}
//	{"authenticated": false, "error": "..."}
//
// Exit status: 0 accepted, 1 rejected, 2 bad usage or the issuer's discovery failed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	oidc "github.com/coreos/go-oidc"
)

// settings mirrors the kube-apiserver flags the tests pass (flag name without "--oidc-").
type settings struct {
	issuer         string
	clientID       string
	usernameClaim  string
	usernamePrefix string
	groupsClaim    string
	groupsPrefix   string
	signingAlgs    string
	requiredClaims claimList
}

// claimList collects repeated -required-claim key=value options.
type claimList []string

func (c *claimList) String() string { return strings.Join(*c, ",") }

func (c *claimList) Set(value string) error {
	if !strings.Contains(value, "=") {
		return fmt.Errorf("required claim %q is not key=value", value)
	}
	*c = append(*c, value)
	return nil
}

type userInfo struct {
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

func parseSettings() settings {
	var s settings
	flag.StringVar(&s.issuer, "issuer", "", "--oidc-issuer-url: the exact iss of accepted tokens")
	flag.StringVar(&s.clientID, "client-id", "", "--oidc-client-id: must be one of the token's audiences")
	flag.StringVar(&s.usernameClaim, "username-claim", "sub", "--oidc-username-claim")
	flag.StringVar(&s.usernamePrefix, "username-prefix", "", "--oidc-username-prefix (\"-\": no prefix)")
	flag.StringVar(&s.groupsClaim, "groups-claim", "", "--oidc-groups-claim (empty: no groups)")
	flag.StringVar(&s.groupsPrefix, "groups-prefix", "", "--oidc-groups-prefix")
	flag.StringVar(&s.signingAlgs, "signing-algs", "RS256", "--oidc-signing-algs (comma-separated)")
	flag.Var(&s.requiredClaims, "required-claim", "--oidc-required-claim key=value (repeatable)")
	flag.Parse()
	if s.issuer == "" || s.clientID == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: k8s-oidc-verify -issuer URL -client-id ID [options] < id-token")
		os.Exit(2)
	}
	return s
}

// username applies the username claim and prefix rules of kube-apiserver.
func username(s settings, claims map[string]interface{}) (string, error) {
	value, ok := claims[s.usernameClaim].(string)
	if !ok || value == "" {
		return "", fmt.Errorf("claim %q is missing or not a non-empty string", s.usernameClaim)
	}
	if s.usernameClaim == "email" {
		// An email is only trusted as a name when the issuer did not say it is unverified.
		if verified, present := claims["email_verified"]; present && verified != true {
			return "", errors.New("email_verified is not true")
		}
	}
	switch {
	case s.usernamePrefix == "-":
		return value, nil
	case s.usernamePrefix != "":
		return s.usernamePrefix + value, nil
	case s.usernameClaim == "email":
		return value, nil
	default:
		return s.issuer + "#" + value, nil
	}
}

// groups reads the groups claim (one string or a list of strings) and adds the prefix.
func groups(s settings, claims map[string]interface{}) ([]string, error) {
	out := []string{}
	if s.groupsClaim == "" {
		return out, nil
	}
	switch value := claims[s.groupsClaim].(type) {
	case nil:
		return out, nil
	case string:
		return append(out, s.groupsPrefix+value), nil
	case []interface{}:
		for _, item := range value {
			name, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("claim %q holds a value that is not a string", s.groupsClaim)
			}
			out = append(out, s.groupsPrefix+name)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("claim %q is neither a string nor a list", s.groupsClaim)
	}
}

func checkRequired(s settings, claims map[string]interface{}) error {
	for _, pair := range s.requiredClaims {
		key, want, _ := strings.Cut(pair, "=")
		if got, ok := claims[key].(string); !ok || got != want {
			return fmt.Errorf("required claim %s=%s not present", key, want)
		}
	}
	return nil
}

func printJSON(value map[string]interface{}) {
	encoded, err := json.Marshal(value)
	if err != nil {
		fmt.Fprintln(os.Stderr, "encoding the result:", err)
		os.Exit(2)
	}
	fmt.Println(string(encoded))
}

func rejected(err error) {
	printJSON(map[string]interface{}{"authenticated": false, "error": err.Error()})
	os.Exit(1)
}

func main() {
	s := parseSettings()
	token, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading the token:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, s.issuer)
	if err != nil {
		fmt.Fprintln(os.Stderr, "issuer discovery:", err)
		os.Exit(2)
	}
	verifier := provider.Verifier(&oidc.Config{
		ClientID:             s.clientID,
		SupportedSigningAlgs: strings.Split(s.signingAlgs, ","),
	})
	idToken, err := verifier.Verify(ctx, strings.TrimSpace(string(token)))
	if err != nil {
		rejected(err)
	}
	var claims map[string]interface{}
	if err := idToken.Claims(&claims); err != nil {
		rejected(fmt.Errorf("reading claims: %w", err))
	}
	if err := checkRequired(s, claims); err != nil {
		rejected(err)
	}
	name, err := username(s, claims)
	if err != nil {
		rejected(err)
	}
	groupNames, err := groups(s, claims)
	if err != nil {
		rejected(err)
	}
	printJSON(map[string]interface{}{
		"authenticated": true,
		"user":          userInfo{Username: name, Groups: groupNames},
		"audiences":     idToken.Audience,
	})
}

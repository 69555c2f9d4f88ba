// The upstream OpenID provider of the `oidc` connector tests (tests/connectors/oidc).
//
// panva's oidc-provider (certified OpenID Connect Core / Discovery implementation) with its
// development login page: any username logs in (it becomes `sub`), the password is not checked.
// Started and stopped by tests/services/oidc_upstream.py, which passes the settings below as
// environment variables. It listens on 127.0.0.1 only and keeps everything in memory, so each
// start has new signing keys and forgets all sessions and tokens.
//
//   OIDC_UPSTREAM_PORT            the port; the issuer is http://127.0.0.1:<port>
//   OIDC_UPSTREAM_REDIRECT_URIS   comma-separated redirect URIs both clients may use
//   OIDC_UPSTREAM_CLIENT_ID / OIDC_UPSTREAM_CLIENT_SECRET
//                                 the confidential client (client_secret_basic)
//   OIDC_UPSTREAM_PUBLIC_CLIENT_ID
//                                 the public client (no secret; oidc-provider demands PKCE)
//
// Each request is logged as "<time> <METHOD> <path> -> <status>": the tests count these lines to
// see whether dex-py called the upstream (for instance "POST /token -> 200").
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

function setting(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return value;
}

const port = Number(setting('OIDC_UPSTREAM_PORT'));
const issuer = `http://127.0.0.1:${port}`;
const redirectUris = setting('OIDC_UPSTREAM_REDIRECT_URIS').split(',').filter((uri) => uri !== '');

// The upstream's user directory: group memberships by username; everyone else is a plain user.
const groupsOf = (username) => ({
  alice: ['upstream-admins', 'upstream-devs'],
  bob: ['upstream-devs'],
}[username] ?? ['upstream-users']);

function userClaims(username) {
  return {
    sub: username,
    name: username.charAt(0).toUpperCase() + username.slice(1),
    given_name: username,
    preferred_username: username,
    email: `${username}@upstream.example.org`,
    email_verified: true,
    groups: groupsOf(username),
  };
}

// A fresh private JWK per start: RS256 (the default algorithm) and ES256.
function signingKey(kind, options, kid) {
  const { privateKey } = generateKeyPairSync(kind, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig' };
}

const clientBase = {
  redirect_uris: redirectUris,
  response_types: ['code'],
  grant_types: ['authorization_code', 'refresh_token'],
};

const provider = new Provider(issuer, {
  clients: [
    {
      ...clientBase,
      client_id: setting('OIDC_UPSTREAM_CLIENT_ID'),
      client_secret: setting('OIDC_UPSTREAM_CLIENT_SECRET'),
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      ...clientBase,
      client_id: setting('OIDC_UPSTREAM_PUBLIC_CLIENT_ID'),
      token_endpoint_auth_method: 'none',
    },
  ],
  jwks: {
    keys: [
      signingKey('rsa', { modulusLength: 2048 }, 'upstream-rsa'),
      signingKey('ec', { namedCurve: 'P-256' }, 'upstream-ec'),
    ],
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  // The granted scopes' claims go into the ID token too, not only to userinfo.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
  },
  async findAccount(ctx, username) {
    return { accountId: username, claims: async () => userClaims(username) };
  },
  // No consent page: once the user logged in, grant the client what it asked for.
  async loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const clientId = oidc.client.clientId;
    const existing = oidc.result?.consent?.grantId ?? oidc.session.grantIdFor(clientId);
    if (existing) {
      return oidc.provider.Grant.find(existing);
    }
    const grant = new oidc.provider.Grant({ clientId, accountId: oidc.session.accountId });
    grant.addOIDCScope([...(oidc.requestParamScopes ?? ['openid'])].join(' '));
    grant.addOIDCClaims([...(oidc.requestParamClaims ?? [])]);
    await grant.save();
    return grant;
  },
  ttl: {
    AuthorizationCode: 60,
    AccessToken: 3600,
    IdToken: 3600,
    RefreshToken: 86400,
    Interaction: 600,
    Session: 3600,
    Grant: 86400,
  },
});

provider.use(async (ctx, next) => {
  await next();
  console.log(`${new Date().toISOString()} ${ctx.method} ${ctx.path} -> ${ctx.status}`);
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));

provider.listen(port, '127.0.0.1', () => console.log(`listening, issuer ${issuer}`));

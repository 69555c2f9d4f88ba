// The node side of bench/peer.py: oidc-provider behind node's cluster module, with one static
// client (client_secret_basic, client_credentials grant) whose access tokens are JWTs signed
// with the algorithm asked for. Written for the benchmark from oidc-provider's documented
// configuration (features.clientCredentials, features.resourceIndicators).
//
// Usage: node server.mjs   with the environment
//   PEER_PORT, PEER_WORKERS (default 2), PEER_ALG (ES256 or RS256),
//   PEER_CLIENT_ID, PEER_CLIENT_SECRET.
// The primary makes the signing key once and hands it to every worker, so all of them sign with
// the same key and publish the same JWKS. It prints "ready" when every worker listens.
import cluster from 'node:cluster';
import crypto from 'node:crypto';
import process from 'node:process';

const port = Number(process.env.PEER_PORT);
const workers = Number(process.env.PEER_WORKERS || 2);
const alg = process.env.PEER_ALG || 'RS256';
const resource = 'urn:dexpy-bench:api';

function signingJwk() {
  const pair = alg === 'ES256'
    ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = pair.privateKey.export({ format: 'jwk' });
  return { ...jwk, alg, use: 'sig', kid: `bench-${alg.toLowerCase()}` };
}

if (cluster.isPrimary) {
  const env = { PEER_JWK: JSON.stringify(signingJwk()) };
  let listening = 0;
  let stopping = false;
  for (let i = 0; i < workers; i += 1) cluster.fork(env);
  cluster.on('listening', () => {
    listening += 1;
    if (listening === workers) console.log('ready');
  });
  cluster.on('exit', (worker, code) => {
    if (!stopping) {
      console.error(`worker ${worker.process.pid} exited (${code}); stopping`);
      process.exit(1);
    }
  });
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const { default: Provider } = await import('oidc-provider');
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [{
      client_id: process.env.PEER_CLIENT_ID,
      client_secret: process.env.PEER_CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'api',
    }],
    clientDefaults: { id_token_signed_response_alg: alg },
    jwks: { keys: [JSON.parse(process.env.PEER_JWK)] },
    scopes: ['openid', 'offline_access', 'api'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // client_credentials requests without a resource parameter get this resource server.
        defaultResource: async () => resource,
        getResourceServerInfo: async () => ({
          scope: 'api',
          audience: resource,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg } },
        }),
      },
    },
  });
  provider.listen(port, '127.0.0.1');
}

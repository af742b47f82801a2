// Runs s3rver (a real S3-compatible HTTP server) on 127.0.0.1 and a free port, for tests.
// Started as its own process with --openssl-legacy-provider: s3rver encrypts listing
// continuation tokens with a legacy cipher (without the flag, every truncated listing is a 500).
import S3rver from 's3rver';

const [directory, ...buckets] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: buckets.map((name) => ({ name })),
});
const { port } = await server.run();
process.stdout.write(JSON.stringify({ port }) + '\n');
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));

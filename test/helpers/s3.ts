/**
 * A real S3-compatible server for tests (s3rver in a child process on 127.0.0.1), a
 * fault-injecting HTTP proxy to put in front of it, and small helpers to move folders in and
 * out of buckets. Never a mocked SDK client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ROOT } from './paths.js';

// s3rver checks signatures against its default key pair; the SDK's default chain reads these
process.env['AWS_ACCESS_KEY_ID'] = 'S3RVER';
process.env['AWS_SECRET_ACCESS_KEY'] = 'S3RVER';
process.env['AWS_REGION'] = 'us-east-1';
delete process.env['AWS_PROFILE'];
delete process.env['AWS_SESSION_TOKEN'];

export interface S3Server {
  readonly endpoint: string;
  readonly port: number;
  client(endpoint?: string): S3Client;
  stop(): Promise<void>;
}

export async function startS3(buckets: string[]): Promise<S3Server> {
  const dir = mkdtempSync(join(tmpdir(), 'heaplake-s3rver-'));
  const child: ChildProcess = spawn(process.execPath, ['--openssl-legacy-provider', join(ROOT, 'test/helpers/s3rver-main.mjs'), dir, ...buckets], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.on('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    client: (e = endpoint) =>
      new S3Client({ region: 'us-east-1', endpoint: e, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } }),
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Uploads every file below `dir` to `s3://bucket/prefix…`. */
export async function uploadDir(client: S3Client, dir: string, bucket: string, prefix = ''): Promise<number> {
  let n = 0;
  const walk = async (d: string, rel: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(p).isDirectory()) await walk(p, r);
      else {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + r, Body: readFileSync(p) }));
        n++;
      }
    }
  };
  await walk(dir, '');
  return n;
}

/** Downloads every object under `s3://bucket/prefix` into a new local folder. */
export async function downloadPrefix(client: S3Client, bucket: string, prefix: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'heaplake-download-'));
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of page.Contents ?? []) {
      const body = await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }))).Body!.transformToByteArray();
      const path = join(dir, o.Key!.slice(prefix.length));
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, body);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return dir;
}

export type Fault =
  /** Answer with this status and an S3 error body (code: SlowDown for 503, else InternalError). */
  | { kind: 'status'; status: number; code?: string }
  /** Answer with this status and body, without asking the server. */
  | { kind: 'respond'; status: number; body: string }
  /** Hold the request this long before passing it on (a stalled connection). */
  | { kind: 'stall'; ms: number }
  /** Pass the request on and rewrite the response body (Content-Length adjusted). */
  | { kind: 'rewrite'; transform: (body: string) => string }
  /** Pass the response on, but cut the connection after this many body bytes. */
  | { kind: 'reset'; afterBytes: number }
  /** Pass the response on, but end the body early (Content-Length kept). */
  | { kind: 'short'; afterBytes: number };

/** The ETag of an object behind the proxy, or undefined when it does not exist. */
function headEtag(port: number, path: string, headers: http.IncomingHttpHeaders): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    delete h['if-match'];
    delete h['if-none-match'];
    delete h['content-length'];
    // the PUT's signature does not cover a HEAD; s3rver does not check it for HEAD of a public path
    const r = http.request({ host: '127.0.0.1', port, method: 'HEAD', path: path.split('?')[0], headers: { host: h.host ?? '' } }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? String(res.headers.etag) : undefined);
    });
    r.on('error', reject);
    r.end();
  });
}

/**
 * An HTTP proxy to `port` that applies `decide(req)` to each request (undefined: pass through).
 * With `enforceConditions`, it answers conditional PUTs and GETs (If-Match / If-None-Match)
 * the way S3 does — 412 when the condition fails — which s3rver itself ignores, and makes each
 * request atomic, as on S3, by running them one at a time.
 */
export async function startFaultProxy(
  port: number,
  decide: (req: http.IncomingMessage) => Fault | undefined,
  options: { enforceConditions?: boolean } = {},
): Promise<{ endpoint: string; close(): Promise<void>; count: number }> {
  const state = { count: 0 };
  // S3 applies each request atomically; s3rver does not: its CopyObject unlinks the destination
  // and then copies, so a copy whose source another request deletes meanwhile loses the
  // destination, and a conditional PUT checked here could race another. Emulating S3, the
  // proxy then runs requests one at a time (each until its response is sent).
  let queue = Promise.resolve();
  const server = http.createServer(async (req, res) => {
    if (options.enforceConditions) {
      const turn = queue;
      let release!: () => void;
      queue = new Promise<void>((r) => (release = r));
      res.on('close', release);
      await turn;
    }
    if (options.enforceConditions && (req.method === 'PUT' || req.method === 'GET') && (req.headers['if-match'] || req.headers['if-none-match'])) {
      const etag = await headEtag(port, req.url ?? '/', req.headers);
      const ifMatch = req.headers['if-match'];
      const failed = req.headers['if-none-match'] === '*' ? etag !== undefined : ifMatch !== undefined && ifMatch !== etag;
      if (failed) {
        req.resume();
        res.writeHead(412, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>');
        return;
      }
    }
    const fault = decide(req);
    if (fault) state.count++;
    if (fault?.kind === 'status') {
      req.resume();
      res.writeHead(fault.status, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code ?? (fault.status === 503 ? 'SlowDown' : 'InternalError')}</Code><Message>injected</Message></Error>`);
      return;
    }
    if (fault?.kind === 'respond') {
      req.resume();
      res.writeHead(fault.status, { 'content-type': 'application/xml' });
      res.end(fault.body);
      return;
    }
    if (fault?.kind === 'stall') await new Promise((r) => setTimeout(r, fault.ms));
    if (res.destroyed || req.socket.destroyed) return;
    const upstream = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      if (fault?.kind === 'rewrite') {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const body = Buffer.from(fault.transform(Buffer.concat(chunks).toString('utf8')));
          const headers = { ...up.headers, 'content-length': String(body.length) };
          delete headers['transfer-encoding'];
          res.writeHead(up.statusCode ?? 500, headers);
          res.end(body);
        });
        return;
      }
      res.writeHead(up.statusCode ?? 500, up.headers);
      if (!fault || fault.kind === 'stall') {
        up.pipe(res);
        return;
      }
      let sent = 0;
      up.on('data', (chunk: Buffer) => {
        if (sent >= fault.afterBytes) return;
        const part = chunk.subarray(0, Math.max(0, fault.afterBytes - sent));
        sent += part.length;
        res.write(part);
        if (sent >= fault.afterBytes) {
          if (fault.kind === 'reset') res.socket?.destroy();
          else res.socket?.end();
          up.destroy();
        }
      });
      up.on('end', () => res.end());
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    get count() {
      return state.count;
    },
  };
}

// A small HTTP(S) GET for health probes: status and body, with an optional CA and bearer token.
import http from 'node:http';
import https from 'node:https';

export interface GetOptions {
  ca?: string | Buffer;
  token?: string;
  /** Accept any serving certificate (for components that sign their own). */
  insecure?: boolean;
  timeoutMs?: number;
}

export function httpGet(
  url: string,
  options: GetOptions = {},
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const headers: Record<string, string> = {};
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
    };
    const req =
      u.protocol === 'https:'
        ? https.get(
            u,
            { headers, ca: options.ca, rejectUnauthorized: !options.insecure },
            onResponse,
          )
        : http.get(u, { headers }, onResponse);
    req.setTimeout(options.timeoutMs ?? 3000, () => {
      req.destroy(new Error(`${url}: no answer in ${options.timeoutMs ?? 3000}ms`));
    });
    req.on('error', (err) => {
      reject(new Error(`${url}: ${err.message}`));
    });
  });
}

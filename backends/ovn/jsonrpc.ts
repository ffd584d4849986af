// JSON-RPC 1.0 over a byte stream, as OVSDB speaks it (RFC 7047 section 4): a stream of JSON
// objects with no delimiter between them, requests {method, params, id}, replies {result, error,
// id}, notifications with a null id, and "echo" requests from the server that must be answered.
// The stream is a TCP or unix socket, or TLS over TCP for `ssl:` remotes (as ovs's stream-ssl).
import { createConnection, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export class JsonRpcError extends Error {
  constructor(
    readonly method: string,
    readonly error: Json,
  ) {
    super(`${method}: ${typeof error === 'string' ? error : JSON.stringify(error)}`);
    this.name = 'JsonRpcError';
  }
}

/** The connection went away (closed, reset, unparseable stream, or judged dead by a caller). */
export class JsonRpcClosedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'JsonRpcClosedError';
  }
}

/**
 * Splits a byte stream into top-level JSON texts. OVSDB sends objects back to back, so the
 * splitter tracks nesting depth outside strings and hands over each complete value.
 */
export class JsonStreamSplitter {
  private buffer = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private scanned = 0;

  /** Feeds a chunk; returns the complete JSON texts it finished. */
  push(chunk: string): string[] {
    this.buffer += chunk;
    const out: string[] = [];
    let start = 0;
    for (let i = this.scanned; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
        continue;
      }
      if (c === '"') this.inString = true;
      else if (c === '{' || c === '[') this.depth++;
      else if (c === '}' || c === ']') {
        this.depth--;
        if (this.depth < 0) throw new Error(`unbalanced '${c}' in JSON-RPC stream`);
        if (this.depth === 0) {
          out.push(this.buffer.slice(start, i + 1).trim());
          start = i + 1;
        }
      }
    }
    this.buffer = this.buffer.slice(start);
    if (this.depth === 0 && this.buffer.trim() === '') this.buffer = '';
    this.scanned = this.buffer.length;
    return out;
  }
}

export interface Endpoint {
  host?: string;
  port?: number;
  path?: string;
  /** An `ssl:` remote: TLS over TCP to host:port. */
  ssl?: true;
}

/** Parses OVSDB's connection method syntax: tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH. */
export function parseEndpoint(remote: string): Endpoint {
  const unix = /^unix:(.+)$/.exec(remote);
  if (unix?.[1]) return { path: unix[1] };
  const inet = /^(tcp|ssl):(\[[^\]]+\]|[^:]+):(\d+)$/.exec(remote);
  if (inet?.[2] && inet[3]) {
    const host = inet[2].replace(/^\[|\]$/g, '');
    return { host, port: Number(inet[3]), ...(inet[1] === 'ssl' ? { ssl: true as const } : {}) };
  }
  throw new Error(
    `${remote}: not an OVSDB remote (expected tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH)`,
  );
}

/**
 * What an `ssl:` remote needs, as ovn-nbctl's --private-key, --certificate and --ca-cert: this
 * client's private key and certificate (the server requires a client certificate), and the CA
 * certificate the server's certificate must be signed by. PEM, read once by the caller.
 */
export interface OvsdbSsl {
  key: Buffer | string;
  cert: Buffer | string;
  ca: Buffer | string;
}

/** Certificate verification failures of the server's certificate, as node's TLS reports them. */
const SERVER_CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
]);

/** TLS alerts by which a server says it does not accept the client's certificate. */
const CLIENT_CERT_ALERTS =
  /^ERR_SSL_(?:TLSV1|SSLV3|TLSV13)_ALERT_(?:UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|CERTIFICATE_REQUIRED|UNSUPPORTED_CERTIFICATE|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|ACCESS_DENIED|DECRYPT_ERROR)$/;

/**
 * A TLS failure said in the operator's terms: whose certificate was refused, and by whom;
 * undefined for an error that is not TLS's. (Node's messages give OpenSSL's reason, never key
 * material.)
 */
export function tlsFailure(err: Error): string | undefined {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  // OpenSSL's own reason ("tlsv1 alert unknown ca") when node gives it, else the message.
  const reason = (err as { reason?: unknown }).reason;
  const why = `${typeof reason === 'string' && reason ? reason : err.message.replace(/\s+/g, ' ').trim()}; ${code}`;
  if (SERVER_CERT_CODES.has(code)) {
    return (
      `TLS: refused the server's certificate (${why}): it does not verify against the CA ` +
      'certificate this client trusts'
    );
  }
  if (CLIENT_CERT_ALERTS.test(code)) {
    return (
      `TLS: the server refused this client's certificate (${why}): is it signed by the CA the ` +
      'server trusts (its --ca-cert)?'
    );
  }
  if (code.startsWith('ERR_SSL_')) return `TLS: ${why}`;
  return undefined;
}

export interface JsonRpcOptions {
  /** How long to wait for the socket to connect. */
  timeoutMs?: number;
  /** Sees every message sent ('send') and received ('recv'), for debugging and tests. */
  trace?: (direction: 'send' | 'recv', text: string) => void;
  /** The key, certificate and CA certificate for an `ssl:` remote (required for one). */
  ssl?: OvsdbSsl;
}

interface Pending {
  method: string;
  resolve: (result: Json) => void;
  reject: (err: Error) => void;
}

export class JsonRpcConnection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly splitter = new JsonStreamSplitter();
  private closedError: JsonRpcClosedError | undefined;
  onNotification: (method: string, params: Json) => void = () => undefined;
  /** Called once, when the connection is lost or closed, with the reason. */
  onClose: (err: JsonRpcClosedError) => void = () => undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly trace?: JsonRpcOptions['trace'],
    /** For TLS errors after the handshake (a refused client certificate, under TLS 1.3). */
    private readonly remote?: string,
  ) {
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('data', (chunk: string) => {
      let texts: string[];
      try {
        texts = this.splitter.push(chunk);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      for (const text of texts) this.dispatch(text);
    });
    socket.on('error', (err) => {
      // Under TLS 1.3 the server checks the client's certificate after the client's side of the
      // handshake is done: its refusal arrives here, as the first read.
      const tls = this.remote === undefined ? undefined : tlsFailure(err);
      this.fail(tls ? new Error(`${String(this.remote)}: ${tls}`) : err);
    });
    socket.on('close', () => {
      this.fail(new Error('connection closed by the peer'));
    });
  }

  static connect(
    remote: string,
    options: number | JsonRpcOptions = {},
  ): Promise<JsonRpcConnection> {
    const {
      timeoutMs = 5000,
      trace,
      ssl,
    } = typeof options === 'number' ? { timeoutMs: options } : options;
    const endpoint = parseEndpoint(remote);
    if (endpoint.ssl && !ssl) {
      return Promise.reject(
        new Error(
          `${remote}: an ssl: remote needs a private key, a certificate and a CA certificate`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const host = endpoint.host ?? '127.0.0.1';
      const port = endpoint.port ?? 0;
      const socket: Socket = endpoint.path
        ? createConnection({ path: endpoint.path })
        : ssl && endpoint.ssl
          ? tlsConnect({
              host,
              port,
              key: ssl.key,
              cert: ssl.cert,
              ca: ssl.ca,
              // The server's certificate must verify against the CA: said here rather than left
              // to node's default, which NODE_TLS_REJECT_UNAUTHORIZED=0 would turn off.
              rejectUnauthorized: true,
              // Its name is not checked against the host, as ovs's own stream-ssl does not: the
              // certificates of an OVS/OVN PKI (ovs-pki) name the role and an id ("ovsdb-server
              // id:..."), not the host, and carry no subjectAltName. Whoever holds a certificate
              // the CA signed is trusted, whatever address it answers on.
              checkServerIdentity: () => undefined,
            })
          : createConnection({ host, port });
      const ready = endpoint.ssl ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`${remote}: no connection after ${timeoutMs}ms`));
      }, timeoutMs);
      socket.once(ready, () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new JsonRpcConnection(socket, trace, endpoint.ssl ? remote : undefined));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(`${remote}: ${tlsFailure(err) ?? err.message}`));
      });
    });
  }

  request(method: string, params: Json[]): Promise<Json> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { method, resolve, reject });
      this.send({ method, params, id });
    });
  }

  /** True once the connection is lost or closed; requests then fail at once. */
  get closed(): boolean {
    return this.closedError !== undefined;
  }

  close(): void {
    this.fail(new Error('connection closed by this client'));
  }

  /** Drops the connection, failing pending requests with the reason given. */
  destroy(reason: string): void {
    this.fail(new Error(reason));
  }

  private send(msg: Json): void {
    const text = JSON.stringify(msg);
    this.trace?.('send', text);
    this.socket.write(text);
  }

  private dispatch(text: string): void {
    if (this.closedError) return;
    this.trace?.('recv', text);
    let msg: { method?: unknown; params?: Json; id?: Json; result?: Json; error?: Json };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      this.fail(new Error(`malformed JSON-RPC message: ${text.slice(0, 200)}`));
      return;
    }
    if (typeof msg.method === 'string') {
      if (msg.method === 'echo' && msg.id !== null && msg.id !== undefined) {
        this.send({ result: msg.params ?? [], error: null, id: msg.id });
      } else if (msg.id === null || msg.id === undefined) {
        this.onNotification(msg.method, msg.params ?? null);
      }
      return;
    }
    if (typeof msg.id !== 'number') return;
    const waiter = this.pending.get(msg.id);
    if (!waiter) return;
    this.pending.delete(msg.id);
    if (msg.error !== null && msg.error !== undefined) {
      waiter.reject(new JsonRpcError(waiter.method, msg.error));
    } else {
      waiter.resolve(msg.result ?? null);
    }
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    const closed = err instanceof JsonRpcClosedError ? err : new JsonRpcClosedError(err.message);
    this.closedError = closed;
    for (const waiter of this.pending.values()) waiter.reject(closed);
    this.pending.clear();
    this.socket.destroy();
    this.onClose(closed);
  }
}

// JSON-RPC 1.0 over a byte stream, as OVSDB speaks it (RFC 7047 section 4): a stream of JSON
// objects with no delimiter between them, requests {method, params, id}, replies {result, error,
// id}, notifications with a null id, and "echo" requests from the server that must be answered.
import { createConnection, type Socket } from 'node:net';

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
}

/** Parses OVSDB's connection method syntax: tcp:HOST:PORT or unix:PATH. */
export function parseEndpoint(remote: string): Endpoint {
  const unix = /^unix:(.+)$/.exec(remote);
  if (unix?.[1]) return { path: unix[1] };
  const tcp = /^tcp:(\[[^\]]+\]|[^:]+):(\d+)$/.exec(remote);
  if (tcp?.[1] && tcp[2]) return { host: tcp[1].replace(/^\[|\]$/g, ''), port: Number(tcp[2]) };
  throw new Error(`${remote}: not an OVSDB remote (expected tcp:HOST:PORT or unix:PATH)`);
}

export interface JsonRpcOptions {
  /** How long to wait for the socket to connect. */
  timeoutMs?: number;
  /** Sees every message sent ('send') and received ('recv'), for debugging and tests. */
  trace?: (direction: 'send' | 'recv', text: string) => void;
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
      this.fail(err);
    });
    socket.on('close', () => {
      this.fail(new Error('connection closed by the peer'));
    });
  }

  static connect(
    remote: string,
    options: number | JsonRpcOptions = {},
  ): Promise<JsonRpcConnection> {
    const { timeoutMs = 5000, trace } =
      typeof options === 'number' ? { timeoutMs: options } : options;
    const endpoint = parseEndpoint(remote);
    return new Promise((resolve, reject) => {
      const socket = endpoint.path
        ? createConnection({ path: endpoint.path })
        : createConnection({ host: endpoint.host ?? '127.0.0.1', port: endpoint.port ?? 0 });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`${remote}: no connection after ${timeoutMs}ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new JsonRpcConnection(socket, trace));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`${remote}: ${err.message}`));
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

// The OVSDB JSON-RPC framing: objects arrive back to back, split anywhere by TCP.
import { createServer, type Server, type Socket } from 'node:net';
import { expect } from 'chai';
import {
  JsonRpcClosedError,
  JsonRpcConnection,
  JsonRpcError,
  JsonStreamSplitter,
  parseEndpoint,
} from '../../backends/ovn/jsonrpc.js';

describe('JSON-RPC stream splitting (RFC 7047 framing)', () => {
  const messages = [
    { id: 1, result: [{ uuid: ['uuid', 'a'] }], error: null },
    {
      method: 'update',
      params: ['m', { Logical_Switch: { x: { new: { name: 'a}b"{' } } } }],
      id: null,
    },
    { id: 'echo', method: 'echo', params: ['\\', '"]'] },
  ];
  const stream = messages.map((m) => JSON.stringify(m)).join('');

  it('splits objects sent back to back with no delimiter', () => {
    const out = new JsonStreamSplitter().push(stream).map((t) => JSON.parse(t) as unknown);
    expect(out).to.deep.equal(messages);
  });

  it('reassembles objects cut at every possible byte boundary', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const s = new JsonStreamSplitter();
      const out = [...s.push(stream.slice(0, cut)), ...s.push(stream.slice(cut))];
      expect(
        out.map((t) => JSON.parse(t) as unknown),
        `cut at ${cut}`,
      ).to.deep.equal(messages);
    }
  });

  it('tolerates whitespace between objects', () => {
    const out = new JsonStreamSplitter().push(' {"a":1}\n {"b":2} ');
    expect(out).to.deep.equal(['{"a":1}', '{"b":2}']);
  });

  it('refuses an unbalanced stream', () => {
    expect(() => new JsonStreamSplitter().push('{"a":1}}')).to.throw(/unbalanced/);
  });

  it('parses OVSDB remotes and names a bad one', () => {
    expect(parseEndpoint('tcp:127.0.0.1:6641')).to.deep.equal({ host: '127.0.0.1', port: 6641 });
    expect(parseEndpoint('tcp:[::1]:6641')).to.deep.equal({ host: '::1', port: 6641 });
    expect(parseEndpoint('unix:/run/ovn/ovnnb_db.sock')).to.deep.equal({
      path: '/run/ovn/ovnnb_db.sock',
    });
    expect(parseEndpoint('ssl:127.0.0.1:6641')).to.deep.equal({
      host: '127.0.0.1',
      port: 6641,
      ssl: true,
    });
    expect(parseEndpoint('ssl:[fd00::1]:6641')).to.deep.equal({
      host: 'fd00::1',
      port: 6641,
      ssl: true,
    });
    expect(() => parseEndpoint('ssl:1.2.3.4')).to.throw(/ssl:1.2.3.4: not an OVSDB remote/);
    expect(() => parseEndpoint('pssl:6641')).to.throw(/expected tcp:HOST:PORT, ssl:HOST:PORT/);
  });

  it('refuses an ssl: remote without a key, a certificate and a CA, before connecting', async () => {
    const err = await JsonRpcConnection.connect('ssl:127.0.0.1:1').catch((e: unknown) => e);
    expect(err).to.be.an('error');
    expect((err as Error).message).to.equal(
      'ssl:127.0.0.1:1: an ssl: remote needs a private key, a certificate and a CA certificate',
    );
  });
});

describe('JSON-RPC connection (against an in-process peer)', () => {
  let server: Server;
  let peer: Promise<Socket>;
  let accepted: Socket | undefined;
  let remote: string;

  beforeEach(async () => {
    let accept: (s: Socket) => void = () => undefined;
    accepted = undefined;
    peer = new Promise((resolve) => (accept = resolve));
    server = createServer((s) => {
      s.setEncoding('utf8');
      accepted = s;
      accept(s);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    remote = `tcp:127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterEach(async () => {
    accepted?.destroy();
    if (server.listening) await new Promise((resolve) => server.close(resolve));
  });

  /** The next JSON text the peer receives. */
  function received(s: Socket): Promise<Record<string, unknown>> {
    return new Promise((resolve) =>
      s.once('data', (d: string) => {
        resolve(JSON.parse(d) as Record<string, unknown>);
      }),
    );
  }

  it('takes replies split across chunks, errors as JsonRpcError, and answers echo', async () => {
    const traced: string[] = [];
    const conn = await JsonRpcConnection.connect(remote, {
      trace: (direction, text) => traced.push(`${direction} ${text}`),
    });
    const s = await peer;
    const asked = received(s);
    const reply = conn.request('list_dbs', []);
    expect(await asked).to.deep.equal({ method: 'list_dbs', params: [], id: 1 });
    const text = JSON.stringify({ id: 1, result: ['OVN_Northbound'], error: null });
    s.write(text.slice(0, 10));
    s.write(text.slice(10));
    expect(await reply).to.deep.equal(['OVN_Northbound']);

    const failing = conn.request('get_schema', ['nope']);
    await received(s);
    s.write(JSON.stringify({ id: 2, result: null, error: 'unknown database' }));
    const err = await failing.catch((e: unknown) => e);
    expect(err).to.be.instanceOf(JsonRpcError);
    expect((err as Error).message).to.equal('get_schema: unknown database');

    const echoed = received(s);
    s.write(JSON.stringify({ method: 'echo', params: ['ping'], id: 'echo' }));
    expect(await echoed).to.deep.equal({ result: ['ping'], error: null, id: 'echo' });
    expect(traced[0]).to.equal('send {"method":"list_dbs","params":[],"id":1}');
    conn.close();
  });

  it('fails pending requests and reports the loss once when the peer goes away', async () => {
    const conn = await JsonRpcConnection.connect(remote);
    const s = await peer;
    const losses: string[] = [];
    conn.onClose = (e) => losses.push(e.message);
    const pending = conn.request('transact', ['db']).catch((e: unknown) => e);
    await received(s);
    s.destroy();
    const err = await pending;
    expect(err).to.be.instanceOf(JsonRpcClosedError);
    expect(losses).to.deep.equal(['connection closed by the peer']);
    expect(conn.closed).to.equal(true);
    const later = await conn.request('echo', []).catch((e: unknown) => e);
    expect(later).to.equal(err);
  });

  it('fails pending requests with the reason given when the caller drops it', async () => {
    const conn = await JsonRpcConnection.connect(remote);
    await peer;
    const pending = conn.request('echo', []).catch((e: unknown) => e);
    conn.destroy('no reply to echo within 10ms');
    const err = (await pending) as Error;
    expect(err).to.be.instanceOf(JsonRpcClosedError);
    expect(err.message).to.equal('no reply to echo within 10ms');
  });

  it('names the remote when it cannot connect', async () => {
    await new Promise((resolve) => server.close(resolve));
    const err = await JsonRpcConnection.connect(remote).catch((e: unknown) => e);
    expect((err as Error).message).to.match(new RegExp(`^${remote}: connect ECONNREFUSED`));
  });
});

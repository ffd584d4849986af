// The OVSDB JSON-RPC framing: objects arrive back to back, split anywhere by TCP.
import { expect } from 'chai';
import { JsonStreamSplitter, parseEndpoint } from '../../backends/ovn/jsonrpc.js';

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
    expect(() => parseEndpoint('ssl:1.2.3.4')).to.throw(/ssl:1.2.3.4: not an OVSDB remote/);
  });
});

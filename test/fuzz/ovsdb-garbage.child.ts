// A child process for test/fuzz/decoders.test.ts: a fake OVSDB server that serves the OVN
// northbound schema, accepts a monitor, then sends one update2 notification with the garbage
// given as argv[2] (JSON); an OvsdbClient monitors it. Prints "survived" and exits 0 when the
// client lives through it (the notification applied or refused), and dies otherwise, as the
// process that hosts the client (syncord serve) would.
import { createServer, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { OvsdbClient, type Json } from '../../backends/ovn/ovsdb.js';
import { JsonStreamSplitter } from '../../backends/ovn/jsonrpc.js';

const garbage = JSON.parse(process.argv[2] ?? 'null') as Json;
const schema = JSON.parse(readFileSync('/usr/share/ovn/ovn-nb.ovsschema', 'utf8')) as Json;

const server = createServer((socket: Socket) => {
  socket.setEncoding('utf8');
  const splitter = new JsonStreamSplitter();
  const send = (msg: Json) => socket.write(JSON.stringify(msg));
  socket.on('data', (chunk: string) => {
    for (const text of splitter.push(chunk)) {
      const msg = JSON.parse(text) as { method?: string; params?: Json[]; id?: Json };
      if (msg.method === 'get_schema') send({ result: schema, error: null, id: msg.id ?? null });
      else if (msg.method === 'monitor_cond') {
        send({ result: {}, error: null, id: msg.id ?? null });
        const monitorId = msg.params?.[1] ?? null;
        setTimeout(() => {
          send({ method: 'update2', params: [monitorId, garbage], id: null });
        }, 50);
      } else if (msg.method === 'echo')
        send({ result: msg.params ?? [], error: null, id: msg.id ?? null });
      else if (msg.id !== undefined && msg.id !== null)
        send({ result: [], error: null, id: msg.id });
    }
  });
  socket.on('error', () => undefined);
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  void (async () => {
    const client = await OvsdbClient.connect(`tcp:127.0.0.1:${String(port)}`, {
      database: 'OVN_Northbound',
      echoIntervalMs: 0,
      reconnect: false,
    });
    await client.monitor({ Logical_Switch_Port: undefined });
    await new Promise((r) => setTimeout(r, 400));
    process.stdout.write('survived\n');
    process.exit(0);
  })();
});

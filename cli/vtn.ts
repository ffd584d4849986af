// `syncord vtn-server`: the reference VTN server (backends/vtn/server.ts) as a process of its own,
// as the rig runs it.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { startVtnServer } from '../backends/vtn/server.js';
import { CliError } from './format.js';

export function addVtnCommands(program: Command): void {
  program
    .command('vtn-server')
    .description(
      'run the reference ONOS-VTN gRPC server (cordvtn.VtnService, with health checking and reflection)',
    )
    .option('--listen <host:port>', 'where it listens', '127.0.0.1:50051')
    .option('--state <file>', 'where it keeps its state across restarts (default: in memory)')
    .option('--tls-cert <file>', 'serve TLS with this certificate (PEM)')
    .option('--tls-key <file>', "the certificate's key (PEM)")
    .action(async (opts: { listen: string; state?: string; tlsCert?: string; tlsKey?: string }) => {
      if (!/^.+:\d{1,5}$/.test(opts.listen)) {
        throw new CliError(`--listen ${opts.listen}: expected host:port, e.g. 127.0.0.1:50051`);
      }
      if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) {
        throw new CliError('--tls-cert and --tls-key go together');
      }
      const read = (f: string, flag: string) => {
        try {
          return readFileSync(f);
        } catch (err) {
          throw new CliError(`${flag} ${f}: ${err instanceof Error ? err.message : String(err)}`);
        }
      };
      const tls =
        opts.tlsCert && opts.tlsKey
          ? { cert: read(opts.tlsCert, '--tls-cert'), key: read(opts.tlsKey, '--tls-key') }
          : undefined;
      const server = await startVtnServer({ listen: opts.listen, stateFile: opts.state, tls });
      const s = server.store;
      console.log(
        `vtn-server listening on ${server.address}${tls ? ' (TLS)' : ''}: ${String(s.networks.size)} networks, ${String(s.ports.size)} ports, ${String(s.hosts.size)} hosts${opts.state ? ` from ${opts.state}` : ' (in memory)'}`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          resolve();
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      await server.close();
    });
}

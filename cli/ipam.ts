// `syncord ipam holds` and `syncord ipam release`: the addresses and MACs IPAM keeps for backend
// objects Syncord let go of (a Port deleted with deletion_policy orphan: its pod or VM keeps
// running with them), and giving one back once that object is gone.
import type { Command } from 'commander';
import { defaultRegistry } from '../models/index.js';
import type { ModelService } from '../models/service.js';
import { CliError, renderTable } from './format.js';
import { withService } from './models.js';

interface Hold {
  network: string;
  what: 'address' | 'MAC';
  value: string;
  held_by: string;
}

async function holds(svc: ModelService, network?: string): Promise<Hold[]> {
  const r = await svc.pool.query<Hold>(
    `SELECT n.name AS network, 'address' AS what, host(a.address) AS value, a.held_by
       FROM syncord_ipam_address a JOIN network n ON n.id = a.network_id
      WHERE a.port_id IS NULL AND ($1::text IS NULL OR n.name = $1)
     UNION ALL
     SELECT n.name, 'MAC', m.mac::text, m.held_by
       FROM syncord_ipam_mac m JOIN network n ON n.id = m.network_id
      WHERE m.port_id IS NULL AND ($1::text IS NULL OR n.name = $1)
     ORDER BY 1, 2, 3`,
    [network ?? null],
  );
  return r.rows;
}

export function addIpamCommands(program: Command): void {
  const ipam = program
    .command('ipam')
    .description('addresses and MACs IPAM holds for backend objects Syncord let go of (orphaned)');
  ipam
    .command('holds')
    .description('list the held addresses and MACs, and what holds them')
    .option('--network <name>', 'only on this Network')
    .action(async (opts: { network?: string }) => {
      await withService(defaultRegistry(), async (svc) => {
        const rows = await holds(svc, opts.network);
        if (rows.length === 0) {
          console.log('nothing is held');
          return;
        }
        console.log(
          renderTable(
            ['NETWORK', 'WHAT', 'VALUE', 'HELD BY'],
            rows.map((h) => [h.network, h.what, h.value, h.held_by]),
          ).trimEnd(),
        );
      });
    });
  ipam
    .command('release <network> <value>')
    .description(
      'give a held address or MAC back (once the orphaned object using it is gone), so IPAM may hand it out again',
    )
    .action(async (network: string, value: string) => {
      await withService(defaultRegistry(), async (svc) => {
        const mac = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(value);
        const table = mac ? 'syncord_ipam_mac' : 'syncord_ipam_address';
        const column = mac ? 'mac' : 'address';
        const cast = mac ? 'macaddr' : 'inet';
        const r = await svc.pool
          .query<{ held_by: string }>(
            `DELETE FROM ${table} t USING network n
              WHERE n.id = t.network_id AND n.name = $1 AND t.${column} = $2::${cast}
                AND t.port_id IS NULL
          RETURNING t.held_by`,
            [network, value],
          )
          .catch((err: unknown) => {
            throw new CliError(`${value}: ${err instanceof Error ? err.message : String(err)}`);
          });
        if (r.rowCount === 0) {
          const held = await holds(svc, network);
          throw new CliError(
            `${value} is not held on Network ${network}${held.length ? ` (held there: ${held.map((h) => h.value).join(', ')})` : ''}; a Port's own address goes with the Port`,
          );
        }
        console.log(`released ${value} on Network ${network} (was held by ${r.rows[0]!.held_by})`);
      });
    });
}

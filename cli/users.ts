// `syncord user create` and `syncord token create`: the API's users (the first admin among
// them) and long-lived tokens for scripts.
import type { Command } from 'commander';
import { createToken, createUser } from '../api/users.js';
import type { RoleName } from '../api/auth.js';
import { defaultRegistry } from '../models/index.js';
import { ModelService } from '../models/service.js';
import { CliError } from './format.js';
import { applyMigrations, withDatabase } from './models.js';

/** The password: $SYNCORD_PASSWORD, else the first line of standard input. */
async function readPassword(): Promise<string> {
  const fromEnv = process.env.SYNCORD_PASSWORD;
  if (fromEnv) return fromEnv;
  if (process.stdin.isTTY) process.stderr.write('password: ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if (Buffer.concat(chunks).includes(10)) break;
  }
  const line = Buffer.concat(chunks).toString('utf8').split('\n')[0] ?? '';
  if (!line) throw new CliError('no password: set SYNCORD_PASSWORD or give it on standard input');
  return line;
}

export function addUserCommands(program: Command): void {
  const user = program.command('user').description("the model API's users");
  user
    .command('create <name>')
    .description(
      'create a user (the password from $SYNCORD_PASSWORD or standard input; at least 8 characters)',
    )
    .option('--role <role>', 'admin, operator or viewer', 'viewer')
    .option('--admin', 'the same as --role admin')
    .option('--trust-domain <name>', "limit the user to this trust domain's objects")
    .action(async (name: string, opts: { role: string; admin?: boolean; trustDomain?: string }) => {
      const role = (opts.admin ? 'admin' : opts.role) as RoleName;
      if (!['admin', 'operator', 'viewer'].includes(role)) {
        throw new CliError(`--role ${role}: must be admin, operator or viewer`);
      }
      const password = await readPassword();
      await withDatabase(async (url) => {
        const registry = defaultRegistry();
        await applyMigrations(url, registry);
        const models = new ModelService(url, registry);
        try {
          const u = await createUser(models, {
            name,
            password,
            role,
            ...(opts.trustDomain ? { trustDomain: opts.trustDomain } : {}),
          });
          console.log(
            `created User ${String(u.id)} (${name}), role ${role}${opts.trustDomain ? `, limited to trust domain ${opts.trustDomain}` : ''}`,
          );
        } finally {
          await models.close();
        }
      });
    });
  const token = program.command('token').description('bearer tokens for the model API');
  token
    .command('create <user>')
    .description("issue a token for a user's scripts; printed once, only its hash is kept")
    .option('--ttl <days>', 'days until it expires, or "never"', '90')
    .action(async (userName: string, opts: { ttl: string }) => {
      const ttl = opts.ttl === 'never' ? null : Number(opts.ttl);
      if (ttl !== null && !(ttl > 0)) {
        throw new CliError(`--ttl ${opts.ttl}: a positive number of days, or "never"`);
      }
      await withDatabase(async (url) => {
        const registry = defaultRegistry();
        const models = new ModelService(url, registry);
        try {
          const t = await createToken(models, registry, userName, ttl);
          console.log(t.token);
          process.stderr.write(
            `token for ${userName}${t.expiresAt ? `, expires ${t.expiresAt}` : ', never expires'}: send it as "authorization: Bearer <token>"\n`,
          );
        } finally {
          await models.close();
        }
      });
    });
}

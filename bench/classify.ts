/**
 * Classifier throughput: `npx tsx bench/classify.ts [count]`.
 * Classifies a mix of typical statements (default 100k) and prints statements per second,
 * then the same through a compiled policy's decide() (repeated texts hit its cache) and with every text distinct.
 */
import type { Identity } from '../src/core/identity.ts';
import { compilePolicy } from '../src/policy/compile.ts';
import { classifySql, initSqlParser } from '../src/policy/sql/classify.ts';

const TYPICAL = [
  'SELECT 1',
  'SELECT id, email, created_at FROM public.users WHERE id = $1',
  "SELECT u.id, count(o.id) FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE u.created_at > now() - interval '7 days' GROUP BY u.id ORDER BY 2 DESC LIMIT 50",
  'INSERT INTO events (kind, payload, at) VALUES ($1, $2, now()) RETURNING id',
  'UPDATE accounts SET balance = balance - $1 WHERE id = $2',
  'DELETE FROM sessions WHERE expires_at < now()',
  'BEGIN',
  'COMMIT',
  "SET application_name = 'psql'",
  'WITH recent AS (SELECT * FROM orders WHERE at > now() - interval \'1 day\') SELECT status, count(*) FROM recent GROUP BY status',
  'SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = ANY($1)',
  'EXPLAIN SELECT * FROM users WHERE email = $1',
];

const count = Number(process.argv[2] ?? 100_000);
await initSqlParser();

for (let i = 0; i < 2_000; i++) classifySql(TYPICAL[i % TYPICAL.length] as string); // warm-up

let t = performance.now();
let statements = 0;
for (let i = 0; i < count; i++) statements += classifySql(TYPICAL[i % TYPICAL.length] as string).statements.length;
let secs = (performance.now() - t) / 1000;
console.log(`classifySql: ${count} texts (${statements} statements) in ${secs.toFixed(2)} s = ${Math.round(count / secs).toLocaleString('en-US')} statements/s`);

const policy = compilePolicy(
  {
    deny: [{ name: 'no-footguns', statements: ['drop', 'truncate', 'delete_without_where', 'update_without_where', 'alter_system', 'copy_program'] }],
    review: [{ name: 'pii', tables: ['public.salaries', 'ssn'], approvers: ['dpo'] }],
  },
  { protocol: 'postgres' },
);
const who: Identity = { subject: 'bench', groups: ['dev'], kind: 'user', authMethod: 'token' };
t = performance.now();
let denied = 0;
for (let i = 0; i < count; i++) {
  if (policy.decide({ protocol: 'postgres', kind: 'query', text: TYPICAL[i % TYPICAL.length] as string }, who).action !== 'allow') denied++;
}
secs = (performance.now() - t) / 1000;
console.log(`decide:      ${count} commands (${denied} not allowed) in ${secs.toFixed(2)} s = ${Math.round(count / secs).toLocaleString('en-US')} commands/s`);

// Every text distinct (no cache hits): the parser's cost on each command.
t = performance.now();
for (let i = 0; i < count; i++) {
  policy.decide({ protocol: 'postgres', kind: 'query', text: `${TYPICAL[i % TYPICAL.length] as string} -- ${i}` }, who);
}
secs = (performance.now() - t) / 1000;
console.log(`decide, every text distinct: ${Math.round(count / secs).toLocaleString('en-US')} commands/s`);

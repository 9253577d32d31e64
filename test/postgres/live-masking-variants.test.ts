/**
 * Variants of the live-masking bypasses, through psql against a real PostgreSQL: a value a detector knows
 * reaches a live-masked identity masked whichever way a query wraps it (aggregates, JSON, XML, format(),
 * records, arrays), whichever statement returns it (RETURNING, cursors, COPY in CSV with another delimiter)
 * and whichever message carries it (errors, notices, settings the target reports). A value glued to a letter
 * or digit (`email || card`) is a documented limit of content matching, as are base64 and reverse().
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';

const EMAIL = 'jane.roe@example.org';
const CARD = '4111111111111111';
const SSN = '123-45-6789';
const SECRETS = [EMAIL, CARD, SSN, '4111 1111 1111 1111', 'JANE.ROE@EXAMPLE.ORG'];

let server: PgServer;
let gw: TestGateway;

beforeAll(async () => {
  server = await startPostgres();
  await server.sql(`CREATE TABLE customers (id int primary key, email text, card text, ssn text);
    INSERT INTO customers VALUES (1, '${EMAIL}', '${CARD}', '${SSN}'), (2, 'x', '5555555555554444', 'y');
    CREATE TABLE inbox (id serial, email text, card text)`);
  gw = await startGateway({
    connections: { app: pgConnection(server, { allow: ['agents'], policy: { mask: { stored: ['all'], live: { groups: ['agents'] } } } }) },
  });
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
});

async function agent(sql: string) {
  const token = await gw.token('bot', ['agents'], { service: true });
  return psql({ port: gw.pgPort, user: 'bot', password: token, database: 'app' }, ['-At', '-v', 'ON_ERROR_STOP=0'], { input: sql });
}

const variants = [
  "SELECT string_agg(email || ';' || card, ',') FROM customers;",
  'SELECT row_to_json(c) FROM customers c;',
  'SELECT json_agg(c) FROM customers c;',
  'SELECT to_jsonb(c)::text FROM customers c;',
  'SELECT c FROM customers c;',
  'SELECT ARRAY[email, card, ssn] FROM customers;',
  'SELECT array_to_string(array_agg(card), \',\') FROM customers;',
  "SELECT format('%s|%s|%s', email, card, ssn) FROM customers;",
  'SELECT upper(email) FROM customers;',
  'SELECT quote_literal(email), quote_ident(card) FROM customers;',
  'SELECT xmlelement(name x, email, \' \', card) FROM customers;',
  "SELECT regexp_replace(card, '(\\d{4})', '\\1 ', 'g') FROM customers;",
  'SELECT card::numeric, card::bigint FROM customers;',
  'SELECT email AS x, card AS y, ssn AS z FROM customers;',
  "INSERT INTO inbox (email, card) SELECT email, card FROM customers RETURNING email, card, id;",
  "UPDATE inbox SET email = email RETURNING *;",
  "BEGIN;\nDECLARE c CURSOR FOR SELECT email, card, ssn FROM customers;\nFETCH 1 FROM c;\nFETCH NEXT FROM c;\nMOVE ABSOLUTE 0 IN c;\nFETCH ALL FROM c;\nCOMMIT;",
  "BEGIN;\nDECLARE c SCROLL CURSOR FOR SELECT row_to_json(x) FROM customers x;\nFETCH LAST FROM c;\nFETCH PRIOR FROM c;\nCOMMIT;",
  "COPY customers TO STDOUT (FORMAT csv, DELIMITER ';');",
  "COPY customers TO STDOUT (FORMAT csv, DELIMITER '|', FORCE_QUOTE *);",
  "COPY customers TO STDOUT (FORMAT csv, DELIMITER '@');",
  "COPY customers TO STDOUT (FORMAT csv, DELIMITER '1');",
  "COPY (SELECT row_to_json(c) FROM customers c) TO STDOUT (FORMAT csv, DELIMITER E'\\t');",
  "COPY (SELECT email || ' ' || card FROM customers) TO STDOUT;",
  'SELECT card::int FROM customers;',
  'SELECT email::date FROM customers;',
  'SELECT ssn::interval FROM customers;',
  "SELECT set_config('application_name', email, false) FROM customers WHERE id = 1;\nSHOW application_name;",
  "SELECT pg_notify('c', email) FROM customers;",
  "DO $$ BEGIN RAISE NOTICE '%', (SELECT email FROM customers WHERE id = 1); END $$;",
  'SELECT jsonb_build_object(email, card) FROM customers;',
  "SELECT (SELECT email FROM customers WHERE id = 1) AS \"column\";",
];

describe('a live-masked identity gets no detected value whichever way a query returns it', () => {
  it.each(variants)('%s', async (sql) => {
    const r = await agent(sql);
    const all = r.stdout + r.stderr;
    for (const s of SECRETS) expect(all, s).not.toContain(s);
    expect(r.stdout + r.stderr).not.toBe('');
  });
});

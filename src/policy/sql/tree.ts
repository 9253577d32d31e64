/** Small readers for libpg-query's JSON parse tree (protobuf-style: default values are omitted). */

export type Node = Record<string, unknown>;

const FALSE_OPTION = new Set(['false', 'off', 'no', '0']);

export function obj(v: unknown): Node | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Node) : undefined;
}

export function sval(v: unknown): string | undefined {
  const s = obj(obj(v)?.String)?.sval;
  return typeof s === 'string' ? s : undefined;
}

export function relationName(schema: unknown, rel: unknown): string {
  const r = String(rel).toLowerCase();
  return typeof schema === 'string' && schema !== '' ? `${schema.toLowerCase()}.${r}` : r;
}

export function qualifiedName(items: unknown): string | undefined {
  if (!Array.isArray(items)) return undefined;
  const parts = items.map(sval).filter((s): s is string => s !== undefined);
  if (parts.length === 0) return undefined;
  return parts.map((p) => p.toLowerCase()).join('.');
}

export function defElems(list: unknown): Node[] {
  if (!Array.isArray(list)) return [];
  return list.map((x) => obj(obj(x)?.DefElem)).filter((x): x is Node => x !== undefined);
}

export function defElemString(list: unknown, name: string): string | undefined {
  const e = defElems(list).find((x) => x.defname === name);
  return e ? sval(e.arg) : undefined;
}

export function defElemStrings(list: unknown, name: string): string[] {
  const e = defElems(list).find((x) => x.defname === name);
  if (!e) return [];
  const single = sval(e.arg);
  if (single !== undefined) return [single];
  const items = obj(obj(e.arg)?.List)?.items;
  return Array.isArray(items) ? items.map(sval).filter((s): s is string => s !== undefined) : [];
}

/** Whether EXPLAIN's options include ANALYZE that is not explicitly off (unreadable → assume on). */
export function explainExecutes(options: unknown): boolean {
  const e = defElems(options).find((x) => x.defname === 'analyze' || x.defname === 'analyse');
  if (!e) return false;
  if (e.arg === undefined) return true;
  const s = sval(e.arg);
  if (s !== undefined) return !FALSE_OPTION.has(s.toLowerCase());
  const arg = obj(e.arg);
  const i = obj(arg?.Integer);
  if (i) return Number(i.ival ?? 0) !== 0;
  const b = obj(arg?.Boolean);
  if (b) return b.boolval === true;
  return true;
}

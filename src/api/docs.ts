// Renders the API reference (docs/api.md) from the registry: every method's
// params and result come from its zod schemas, so the document cannot drift
// from what the server accepts. test/unit/api/docs.test.ts fails when the
// committed file differs and rewrites it with WEFT_UPDATE_DOCS=1.
import { z } from 'zod';
import { ERROR_DESCRIPTIONS, ErrorCode } from './errors.js';
import { DEFAULT_LIMITS as L } from './limits.js';
import { Manifest } from './manifest.js';
import { EVENT_NOTIFICATION, Event } from './methods/events.js';
import type { AnyMethod, Registry } from './registry.js';

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  default?: unknown;
  description?: string;
  additionalProperties?: JsonSchema | boolean;
}

interface Row {
  field: string;
  type: string;
  required: boolean;
  default?: unknown;
  description?: string;
}

function typeText(s: JsonSchema): string {
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return alternatives.map(typeText).join(' or ');
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join(' \\| ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  const t = Array.isArray(s.type) ? s.type.join(' or ') : (s.type ?? 'any');
  const notes: string[] = [];
  // zod's int() bounds every integer by the safe range; that is no news to a reader.
  const min = s.minimum !== undefined && Math.abs(s.minimum) < Number.MAX_SAFE_INTEGER ? s.minimum : undefined;
  const max = s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? s.maximum : undefined;
  if (min !== undefined && max !== undefined) notes.push(`${min}..${max}`);
  else if (min !== undefined) notes.push(`≥ ${min}`);
  else if (max !== undefined) notes.push(`≤ ${max}`);
  if (s.minLength !== undefined || s.maxLength !== undefined) notes.push(`length ${s.minLength ?? 0}..${s.maxLength ?? '∞'}`);
  if (s.maxItems !== undefined) notes.push(`at most ${s.maxItems}`);
  if (t === 'array' && s.items) return `array of ${typeText(s.items)}${notes.length ? ` (${notes.join(', ')})` : ''}`;
  if (t === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object' && !s.properties) return `map of ${typeText(s.additionalProperties)}`;
  if (s.pattern) notes.push(`\`${s.pattern.replaceAll('|', '\\|')}\``);
  return `${t}${notes.length ? ` (${notes.join(', ')})` : ''}`;
}

function rows(schema: JsonSchema, prefix = ''): Row[] {
  const out: Row[] = [];
  const required = new Set(schema.required ?? []);
  for (const [name, s] of Object.entries(schema.properties ?? {})) {
    const field = `${prefix}${name}`;
    const row: Row = { field, type: typeText(s), required: required.has(name) && s.default === undefined };
    if (s.default !== undefined) row.default = s.default;
    if (s.description) row.description = s.description;
    out.push(row);
    if (s.properties) out.push(...rows(s, `${field}.`));
    if (s.items?.properties) out.push(...rows(s.items, `${field}[].`));
  }
  return out;
}

function cell(text: string): string {
  return text.replaceAll('\n', ' ');
}

function fieldTable(schema: z.ZodType, io: 'input' | 'output'): string {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  const r = rows(json);
  if (r.length === 0) return '_none_\n';
  const lines = ['| field | type | required | default | notes |', '| --- | --- | --- | --- | --- |'];
  for (const row of r) {
    lines.push(`| \`${row.field}\` | ${cell(row.type)} | ${row.required ? 'yes' : ''} | ${row.default === undefined ? '' : `\`${JSON.stringify(row.default)}\``} | ${cell(row.description ?? '')} |`);
  }
  return `${lines.join('\n')}\n`;
}

function errorName(code: number): string {
  return Object.entries(ErrorCode).find(([, c]) => c === code)?.[0] ?? String(code);
}

function method(m: AnyMethod): string {
  const errors = [ErrorCode.InvalidParams, ...(m.scope === 'admin' ? [ErrorCode.Forbidden] : []), ...(m.errors ?? [])];
  return [
    `### \`${m.name}\``,
    '',
    m.summary,
    '',
    ...(m.description ? [m.description, ''] : []),
    `Scope: **${m.scope}**${m.websocketOnly ? ' · WebSocket only' : ''}`,
    '',
    '**Params**',
    '',
    fieldTable(m.params, 'input'),
    '**Result**',
    '',
    fieldTable(m.result, 'output'),
    `**Errors**: ${errors.map((c) => `${c} ${errorName(c)}`).join(', ')}`,
    '',
  ].join('\n');
}

export function renderApiDocs(registry: Registry): string {
  const methods = registry.list();
  const groups = new Map<string, AnyMethod[]>();
  for (const m of methods) {
    const g = m.name.includes('.') ? m.name.split('.')[0]! : m.name;
    groups.set(g, [...(groups.get(g) ?? []), m]);
  }
  const out: string[] = [
    '# weft admin API',
    '',
    '<!-- Generated from the method registry (src/api). Do not edit: run',
    '     `npx tsc -p . && WEFT_UPDATE_DOCS=1 npx tap dist/test/unit/api/docs.test.js`. -->',
    '',
    'JSON-RPC 2.0 over a WebSocket at `ws://HOST:PORT/rpc` (calls and notifications) and over',
    '`POST http://HOST:PORT/rpc` (single calls and batches, keep-alive); `wss`/`https` when the',
    'daemon has `--api-tls-cert`/`--api-tls-key`. `GET /healthz` answers `{"status":"ok"}` without a token.',
    '',
    '## Authentication',
    '',
    'Every call needs `Authorization: Bearer TOKEN`, on each HTTP request and on the WebSocket',
    'upgrade. The first start writes an admin token to `DATA/admin.token` (mode 0600). `token.create`',
    'makes more: admin tokens, or tokens scoped to one tenant. A tenant token sees and changes only its',
    "tenant's objects; another tenant's object answers exactly like a missing one (-32000), and",
    'admin-scope methods answer -32003.',
    '',
    '## Limits',
    '',
    `- A body (HTTP) or message (WebSocket) is at most ${L.maxBody} bytes: HTTP answers 413 with -32600 and`,
    '  closes the connection; a WebSocket is closed with 1009.',
    `- A batch holds at most ${L.maxBatch} calls (-32600 otherwise); an empty batch is -32600.`,
    `- Each connection has a call budget (${L.rate} calls/s on average, bursts of ${L.burst}) and at most`,
    `  ${L.maxInFlight} calls in flight; beyond that calls answer -32004.`,
    `- A WebSocket that does not answer a ping (every ${L.pingInterval / 1000} s) or lets more than ${L.maxBuffered} bytes`,
    '  of answers and notifications pile up unread is closed.',
    `- At most ${L.maxConnections} connections at once.`,
    '- Params are an object of named fields; unknown fields are refused by name.',
    '',
    '## Errors',
    '',
    'Errors carry `data.issues: [{path, message}]` naming each bad field when there is one (paths are',
    'dotted: `subnets.0.cidr`, `manifest.networks.2.vlan`). A refused call has changed nothing.',
    '',
    '| code | name | meaning |',
    '| --- | --- | --- |',
    ...Object.entries(ERROR_DESCRIPTIONS)
      .sort(([a], [b]) => Number(b) - Number(a))
      .map(([code, text]) => `| ${code} | ${errorName(Number(code))} | ${text} |`),
    '',
    '## Methods',
    '',
    ...[...groups.keys()].map((g) => `- ${g}: ${groups.get(g)!.map((m) => `[\`${m.name}\`](#${m.name.replaceAll('.', '')})`).join(', ')}`),
    '',
  ];
  for (const [group, ms] of groups) {
    out.push(`## ${group}`, '');
    for (const m of ms) out.push(method(m));
  }
  out.push(
    '## Notifications',
    '',
    `### \`${EVENT_NOTIFICATION}\``,
    '',
    'Sent to a WebSocket after `events.subscribe`, one per changed object, in store revision order.',
    '',
    fieldTable(Event, 'output'),
    '## Manifest',
    '',
    'What `apply` takes (`weft apply -f FILE`): one tenant with its networks, their subnets and',
    'reservations. Fields not listed under a network take the same defaults as `network.create`.',
    'See deploy/examples/tenant-acme.yaml.',
    '',
    fieldTable(Manifest, 'input'),
  );
  return out.join('\n');
}

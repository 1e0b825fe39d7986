// Which hosts weft may touch. A host that connects for the first time is
// stored as `pending` unless one of the configured rules admits it: `auto`
// (labs: everyone), `cidr:BLOCK` (the connection's source address), or
// `cn:PATTERN` (the verified TLS client certificate's common name, `*` and
// `?` as wildcards). An operator's decision through the API (admitted or
// rejected) always wins over the rules, which only judge first contact.
import { cidrContains, parseCidr, parseIpv4, type CidrBlock } from '../model/address.js';

export type AdmitRule = { kind: 'auto' } | { kind: 'cidr'; text: string; block: CidrBlock } | { kind: 'cn'; pattern: string; regex: RegExp };

/** Parses one rule; throws an Error whose message says what is wrong (the settings loader shows it). */
export function parseAdmitRule(text: string): AdmitRule {
  if (text === 'auto') return { kind: 'auto' };
  if (text.startsWith('cidr:')) {
    const c = parseCidr(text.slice(5));
    if (typeof c === 'string') throw new Error(`"${text}": ${c === 'host-bits' ? 'host bits set in the block' : 'expected cidr:A.B.C.D/LEN'}`);
    return { kind: 'cidr', text, block: c };
  }
  if (text.startsWith('cn:')) {
    const pattern = text.slice(3);
    if (pattern === '' || pattern.length > 255) throw new Error(`"${text}": expected cn:PATTERN of 1-255 characters`);
    const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
    return { kind: 'cn', pattern, regex: new RegExp(`^${source}$`) };
  }
  throw new Error(`"${text}": expected auto, cidr:A.B.C.D/LEN or cn:PATTERN`);
}

export function formatAdmitRule(rule: AdmitRule): string {
  return rule.kind === 'auto' ? 'auto' : rule.kind === 'cidr' ? rule.text : `cn:${rule.pattern}`;
}

/** What a connection tells about itself. */
export interface Credentials {
  /** Source IP of a tcp or ssl connection. */
  address?: string;
  /** Verified client certificate CN (ssl only). */
  cn?: string;
}

/** The first rule that admits these credentials, or undefined. */
export function admittedBy(rules: readonly AdmitRule[], who: Credentials): AdmitRule | undefined {
  const ip = who.address !== undefined ? parseIpv4(who.address) : undefined;
  return rules.find((r) => {
    switch (r.kind) {
      case 'auto':
        return true;
      case 'cidr':
        return ip !== undefined && cidrContains(r.block, ip);
      case 'cn':
        return who.cn !== undefined && r.regex.test(who.cn);
    }
  });
}

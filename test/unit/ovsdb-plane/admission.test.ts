// Admission rules: what each rule accepts when parsed, what it admits, and
// that the first matching rule is the one reported.
import t from 'tap';
import { admittedBy, formatAdmitRule, parseAdmitRule } from '../../../src/ovsdb/admission.js';

t.test('rules parse from their text and format back to it', async (t) => {
  for (const text of ['auto', 'cidr:198.19.0.0/16', 'cidr:127.0.0.1/32', 'cidr:0.0.0.0/0', 'cn:hv-*', 'cn:hv?.example.org']) {
    t.equal(formatAdmitRule(parseAdmitRule(text)), text);
  }
});

t.test('malformed rules are refused with a message that quotes them', async (t) => {
  t.throws(() => parseAdmitRule('cidr:198.19.1.1/16'), /"cidr:198.19.1.1\/16": host bits set/);
  t.throws(() => parseAdmitRule('cidr:198.19.0.0'), /expected cidr:A\.B\.C\.D\/LEN/);
  t.throws(() => parseAdmitRule('cidr:198.19.0.0/33'), /expected cidr:/);
  t.throws(() => parseAdmitRule('cidr:hv1'), /expected cidr:/);
  t.throws(() => parseAdmitRule('cn:'), /cn:PATTERN of 1-255 characters/);
  t.throws(() => parseAdmitRule(`cn:${'x'.repeat(256)}`), /1-255 characters/);
  t.throws(() => parseAdmitRule('everyone'), /expected auto, cidr:A\.B\.C\.D\/LEN or cn:PATTERN/);
  t.throws(() => parseAdmitRule('AUTO'), /expected auto/);
});

t.test('auto admits anything, even a unix connection that tells nothing', async (t) => {
  t.equal(admittedBy([parseAdmitRule('auto')], {})?.kind, 'auto');
});

t.test('cidr: admits a source address inside the block and nothing else', async (t) => {
  const rules = [parseAdmitRule('cidr:198.19.0.0/16')];
  t.ok(admittedBy(rules, { address: '198.19.1.1' }));
  t.ok(admittedBy(rules, { address: '198.19.255.254' }));
  t.notOk(admittedBy(rules, { address: '198.18.0.1' }), 'outside the block');
  t.notOk(admittedBy(rules, { address: '198.20.0.1' }), 'just past the end');
  t.notOk(admittedBy(rules, {}), 'a unix connection has no source address');
  t.notOk(admittedBy(rules, { address: '2001:db8::1' }), 'an IPv6 source never matches an IPv4 block');
  t.notOk(admittedBy(rules, { cn: '198.19.1.1' }), 'a CN is not an address');
  t.ok(admittedBy([parseAdmitRule('cidr:198.19.1.7/32')], { address: '198.19.1.7' }), 'a /32 is one host');
  t.notOk(admittedBy([parseAdmitRule('cidr:198.19.1.7/32')], { address: '198.19.1.8' }));
  t.ok(admittedBy([parseAdmitRule('cidr:0.0.0.0/0')], { address: '203.0.113.9' }), '/0 is every IPv4 source');
});

t.test('cn: matches the whole CN, with * and ? as the only wildcards', async (t) => {
  const rules = [parseAdmitRule('cn:hv-*.example.org')];
  t.ok(admittedBy(rules, { cn: 'hv-1.example.org' }));
  t.ok(admittedBy(rules, { cn: 'hv-.example.org' }), '* matches nothing too');
  t.notOk(admittedBy(rules, { cn: 'hv-1.example.org.evil' }), 'anchored at the end');
  t.notOk(admittedBy(rules, { cn: 'xhv-1.example.org' }), 'anchored at the start');
  t.notOk(admittedBy(rules, { cn: 'hv-1xexample.org' }), 'a dot is a dot, not any character');
  t.notOk(admittedBy(rules, { address: '198.19.1.1' }), 'no certificate, no match');
  const one = [parseAdmitRule('cn:hv?')];
  t.ok(admittedBy(one, { cn: 'hv1' }));
  t.notOk(admittedBy(one, { cn: 'hv12' }), '? is exactly one character');
  t.ok(admittedBy([parseAdmitRule('cn:a+b(c)[d]')], { cn: 'a+b(c)[d]' }), 'regex characters are literal');
  t.notOk(admittedBy([parseAdmitRule('cn:a+b')], { cn: 'aab' }));
});

t.test('no rules admit nothing; several rules report the first that matches', async (t) => {
  t.equal(admittedBy([], { address: '198.19.1.1', cn: 'hv1' }), undefined);
  const rules = ['cn:hv*', 'cidr:198.19.0.0/16', 'auto'].map(parseAdmitRule);
  t.equal(formatAdmitRule(admittedBy(rules, { address: '198.19.1.1', cn: 'hv1' })!), 'cn:hv*');
  t.equal(formatAdmitRule(admittedBy(rules, { address: '198.19.1.1', cn: 'other' })!), 'cidr:198.19.0.0/16');
  t.equal(formatAdmitRule(admittedBy(rules, { address: '198.18.0.1' })!), 'auto');
});

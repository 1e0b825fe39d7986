// fast-check generators for column types and values that fit them.
import fc from 'fast-check';
import type { BaseType, ColumnType } from '../../../protocols/ovsdb/schema.js';
import type { Atom, Value } from '../../../protocols/ovsdb/datum.js';

export const uuidArb = fc.uuid({ version: 4 });

export const baseTypeArb: fc.Arbitrary<BaseType> = fc.oneof(
  fc.constant<BaseType>({ type: 'integer' }),
  fc.constant<BaseType>({ type: 'integer', minInteger: 0, maxInteger: 4095 }),
  fc.constant<BaseType>({ type: 'real' }),
  fc.constant<BaseType>({ type: 'boolean' }),
  fc.constant<BaseType>({ type: 'string' }),
  fc.constant<BaseType>({ type: 'string', enum: ['secure', 'standalone', 'é'] }),
  fc.constant<BaseType>({ type: 'uuid' }),
  fc.constant<BaseType>({ type: 'uuid', refTable: 'Port', refType: 'weak' }),
);

export const columnTypeArb: fc.Arbitrary<ColumnType> = fc
  .record({
    key: baseTypeArb,
    value: fc.option(baseTypeArb, { nil: undefined }),
    min: fc.constantFrom(0, 1),
    max: fc.constantFrom(1, 2, 5, Infinity),
  })
  .map(({ key, value, min, max }) => (value ? { key, value, min, max } : { key, min, max }));

export function atomArb(base: BaseType): fc.Arbitrary<Atom> {
  if (base.enum) return fc.constantFrom(...(base.enum as Atom[]));
  switch (base.type) {
    case 'integer':
      return fc.integer({ min: base.minInteger ?? Number.MIN_SAFE_INTEGER, max: base.maxInteger ?? Number.MAX_SAFE_INTEGER });
    case 'real':
      return fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d));
    case 'boolean':
      return fc.boolean();
    case 'string':
      return fc.string({ unit: 'binary', maxLength: 8 });
    case 'uuid':
      return uuidArb;
  }
}

/** A value of the type: unique elements, a count within [min, max]. */
export function valueArb(type: ColumnType): fc.Arbitrary<Value> {
  const maxLength = Math.min(type.max, 5);
  if (type.value) {
    const v = type.value;
    return fc
      .uniqueArray(fc.tuple(atomArb(type.key), atomArb(v)), { minLength: type.min, maxLength, selector: ([k]) => k })
      .map((pairs) => new Map(pairs));
  }
  if (type.min === 1 && type.max === 1) return atomArb(type.key);
  return fc.uniqueArray(atomArb(type.key), { minLength: type.min, maxLength });
}

export const typedValueArb = columnTypeArb.chain((type) => valueArb(type).map((value) => ({ type, value })));

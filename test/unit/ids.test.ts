import { describe, expect, it } from 'vitest';
import { newId, uuidFromName } from '../../src/lib/ids.ts';

describe('ids', () => {
  it('sort in creation order even past 1,024 ids in one millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => newId('msg', 1_800_000_000_000));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(ids.every((id) => /^msg_[0-9A-Za-z]{23}$/.test(id))).toBe(true);
  });

  it('a later millisecond sorts after an earlier one, and ids never go backwards with the clock', () => {
    const earlier = newId('run', 2_000_000_000_000);
    const later = newId('run', 2_000_000_000_005);
    expect(later > earlier).toBe(true);
    expect(newId('run', 2_000_000_000_001) > later).toBe(true);
  });

  it('derives the same UUID from the same name', () => {
    expect(uuidFromName('msg_1:2')).toBe(uuidFromName('msg_1:2'));
    expect(uuidFromName('msg_1:2')).not.toBe(uuidFromName('msg_1:3'));
    expect(uuidFromName('x')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

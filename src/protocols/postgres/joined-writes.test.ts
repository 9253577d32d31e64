import { describe, expect, it } from 'vitest';
import { JoinedWrites } from './joined-writes.ts';

describe('JoinedWrites', () => {
  const setup = () => {
    const writes: Buffer[] = [];
    return { writes, joined: new JoinedWrites((b) => writes.push(b)) };
  };

  it('writes ranges that follow each other in one chunk as one slice of it, without copying', () => {
    const { writes, joined } = setup();
    const chunk = Buffer.from('abcdefghij');
    joined.add(chunk.subarray(0, 3));
    joined.add(chunk.subarray(3, 4));
    joined.add(chunk.subarray(4, 9));
    expect(writes).toHaveLength(0);
    joined.flush();
    expect(writes.map(String)).toEqual(['abcdefghi']);
    chunk[0] = 0x41; // the write is a view of the chunk
    expect(String(writes[0])).toBe('Abcdefghi');
    joined.flush();
    expect(writes).toHaveLength(1);
  });

  it('starts a new write at a gap, at other memory, and going backwards', () => {
    const { writes, joined } = setup();
    const chunk = Buffer.from('abcdefghij');
    joined.add(chunk.subarray(0, 2));
    joined.add(chunk.subarray(3, 5)); // gap
    joined.add(Buffer.from('XY')); // other memory
    joined.add(chunk.subarray(5, 6));
    joined.add(chunk.subarray(4, 5)); // before the pending range
    joined.flush();
    expect(writes.map(String)).toEqual(['ab', 'de', 'XY', 'f', 'e']);
  });
});

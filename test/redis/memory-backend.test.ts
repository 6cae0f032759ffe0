/**
 * The built-in `memory` backend on the stream seam: batches, acknowledgements of sets in any
 * order, a closing consumer's unacknowledged messages handed to the group's other consumers, and
 * a group whose last consumer left starting again at its committed offset.
 */
import { describe, expect, it } from 'vitest';
import { MemoryTopic, type StreamBackend, type StreamMessage } from 'cloaca';

async function received(consumer: StreamBackend): Promise<StreamMessage[]> {
  const batch = await consumer.receive();
  if (batch === undefined) throw new Error('the consumer is closed');
  return [...batch];
}

const values = (batch: readonly StreamMessage[]) => batch.map((m) => m.value);
const positions = (batch: readonly StreamMessage[]) => batch.map((m) => m.position);

describe('memory backend', () => {
  it('hands out what was published in batches, and commits past every message acknowledged without a gap', async () => {
    const topic = new MemoryTopic('t');
    for (let n = 0; n < 5; n++) topic.publish(n);
    const consumer = topic.subscribe('g');
    const batch = await received(consumer);
    expect(values(batch)).toStrictEqual([0, 1, 2, 3, 4]);
    expect(consumer.lag?.()).toBe(0);
    await consumer.ack([2, 3]);
    expect(topic.committed('g')).toBe(0);
    await consumer.ack([0, 1]);
    expect(topic.committed('g')).toBe(4);
    await consumer.ack([4]);
    expect(topic.committed('g')).toBe(5);
  });

  it("gives a closing consumer's unacknowledged messages to the group's other consumers, before new ones", async () => {
    const topic = new MemoryTopic('t');
    for (let n = 0; n < 4; n++) topic.publish(n);
    const first = topic.subscribe('g');
    const second = topic.subscribe('g');
    const taken = await received(first);
    expect(values(taken)).toStrictEqual([0, 1, 2, 3]);
    await first.ack([0, 2]);
    topic.publish(4);
    await first.close();
    expect(values(await received(second))).toStrictEqual([1, 3, 4]);
    await second.ack([1, 3, 4]);
    expect(topic.committed('g')).toBe(5);
  });

  it('a group whose last consumer left starts again at its committed offset', async () => {
    const topic = new MemoryTopic('t');
    for (let n = 0; n < 3; n++) topic.publish(n);
    const first = topic.subscribe('g');
    const taken = await received(first);
    await first.ack(positions(taken).slice(0, 1));
    await first.close();
    const again = topic.subscribe('g');
    expect(values(await received(again))).toStrictEqual([1, 2]);
  });

  it('holds at most capacity unacknowledged messages; acknowledgements by every group make room', async () => {
    const topic = new MemoryTopic('t', { capacity: 2 });
    const a = topic.subscribe('a');
    const b = topic.subscribe('b');
    expect([topic.publish(0), topic.publish(1), topic.publish(2)]).toStrictEqual([true, true, false]);
    await a.ack(positions(await received(a)));
    expect(topic.publish(2)).toBe(false); // group b still needs both
    await b.ack(positions(await received(b)));
    expect(topic.publish(2)).toBe(true);
  });
});

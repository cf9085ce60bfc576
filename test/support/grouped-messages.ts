/**
 * Messages with their first jobs written as the runs API writes them: the job's pg-boss group is
 * the URL's origin (delivery-fixtures' queueMessages leaves jobs ungrouped).
 */
import { messages } from '../../src/db/schema.ts';
import { newId } from '../../src/lib/ids.ts';
import { enqueueDeliveries } from '../../src/queue/delivery-queue.ts';
import { samplePayload, type DeliveryHarness } from './delivery-fixtures.ts';

export async function queueGroupedMessages(h: DeliveryHarness, tenantId: string, url: string, count: number): Promise<string[]> {
  const rows = Array.from({ length: count }, () => ({
    id: newId('msg'),
    tenantId,
    runId: newId('run'),
    workflowId: 'wf_test',
    eventId: newId('evt'),
    eventType: 'run.completed',
    url,
    headers: {},
    payload: samplePayload(),
    status: 'pending' as const,
    nextAttemptAt: new Date(),
  }));
  await h.db.transaction(async (tx) => {
    for (let i = 0; i < rows.length; i += 1000) {
      const chunk = rows.slice(i, i + 1000);
      await tx.insert(messages).values(chunk);
      await enqueueDeliveries(
        h.boss,
        chunk.map((row) => ({ messageId: row.id, step: 1, trigger: 'scheduled' as const, url })),
        tx,
      );
    }
  });
  h.deps.onEnqueued();
  return rows.map((row) => row.id);
}

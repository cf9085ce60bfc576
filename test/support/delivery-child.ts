/**
 * A delivery worker in a process of its own, for crash tests: `node delivery-child.ts <database url>`.
 * Prints READY once it fetches; the test kills it with SIGKILL.
 */
import { startDeliveryHarness } from './delivery-fixtures.ts';

const url = process.argv[2];
if (url === undefined) throw new Error('usage: delivery-child.ts <database url>');
await startDeliveryHarness({ databaseUrl: url, deliveryTimeoutMs: 10_000 });
process.stdout.write('READY\n');

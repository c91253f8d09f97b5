/** A reader worker that dies when a body starts (the pool's crash path): exit code 3. */
import { parentPort } from 'node:worker_threads';

parentPort?.on('message', (message: { type: string }) => {
  if (message.type === 'start') process.exit(3);
});

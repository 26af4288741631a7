// Logs one run to a labbook server with the npm @wandb/sdk client, as a user's script would:
// init, a few steps, finish. The server comes from WANDB_BASE_URL and the key from
// WANDB_API_KEY; LABBOOK_WANDB_PROJECT names the project. Prints the run's id on the last line.
import wandb from '@wandb/sdk';

const project = process.env.LABBOOK_WANDB_PROJECT || 'sdk-e2e';
const steps = 5;

const run = await wandb.init({
  project,
  name: 'sdk end to end',
  config: { lr: 0.01, layers: 2, optimizer: 'adam' },
});
for (let step = 0; step < steps; step += 1) {
  run.log({ loss: 1 / (step + 1), accuracy: step / steps });
}
await run.finish();
console.log(JSON.stringify({ id: run.id, entity: run.entity, project: run.project }));

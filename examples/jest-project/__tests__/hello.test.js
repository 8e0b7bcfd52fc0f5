// SPDX-License-Identifier: MIT
// The Jest sample: the AWS SDK for JavaScript v3 finds galley through AWS_ENDPOINT_URL_LAMBDA
// (exported by the helper's globalSetup), each test starts cold, and galley.warm() pre-warms.
const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda');
const { galley } = require('galley-test-helper/jest-setup');

const client = galley.lambdaClient();

async function invoke(payload) {
  const out = await client.send(new InvokeCommand({
    FunctionName: 'Hello', Payload: Buffer.from(JSON.stringify(payload)),
  }));
  expect(out.FunctionError).toBeUndefined();
  return JSON.parse(Buffer.from(out.Payload).toString());
}

test('hello through the AWS SDK', async () => {
  expect(await invoke({ name: 'jest' })).toEqual({ message: 'Hello, jest!', invokes: 1 });
});

test('each test starts cold', async () => {
  expect((await invoke({})).invokes).toBe(1);
  expect((await invoke({})).invokes).toBe(2);
});

test('warm environments answer without a new one', async () => {
  await galley.warm('Hello', 2);
  await invoke({});
  const envs = (await galley.environments())
    .filter((e) => e.function === 'Hello' && e.status !== 'stopping'); // the last test's may still be stopping
  expect(envs).toHaveLength(2);
  expect(envs.reduce((n, e) => n + e.invokes, 0)).toBe(1);
});

test('an SDK client made with no endpoint reaches galley too', async () => {
  expect(process.env.AWS_ENDPOINT_URL_LAMBDA).toBe(galley.endpoint);
  const plain = new LambdaClient({ region: 'us-east-1', maxAttempts: 1,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const out = await plain.send(new InvokeCommand({ FunctionName: 'Hello', Payload: Buffer.from('{}') }));
  expect(out.StatusCode).toBe(200);
});

// The official OpenAI client (the `openai` package from the npm registry) against `needlework
// serve`: it lists the models, completes and streams a chat and a text completion, with the API
// key the server was started with. Skipped (exit 77) when the package is absent: it is not a
// Debian package, so install it once (`npm install openai` in any folder) and point NODE_PATH at
// that folder's node_modules; the test needs no network.
//
//     node serve_openai.cjs NEEDLEWORK MODEL.gguf
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

let OpenAI;
try {
  OpenAI = require('openai');
} catch (e) {
  console.log('serve_openai: skipped: the npm package openai is not installed (npm install openai; NODE_PATH=.../node_modules)');
  process.exit(77);
}

function check(condition, what) {
  if (!condition)
    throw new Error(what);
}

async function main() {
  const [exe, model] = process.argv.slice(2);
  const keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nw-serve-')), 'key');
  fs.writeFileSync(keyFile, 'k3y\n');
  const server = spawn(exe, ['serve', '--model', model, '--port', '0', '--ctx', '1024', '--threads', '1',
    '--parallel', '2', '--api-key-file', keyFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const banner = await new Promise((resolve, reject) => {
      readline.createInterface({ input: server.stdout }).once('line', resolve);
      server.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
    });
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(banner)[1]);
    const client = new OpenAI({ apiKey: 'k3y', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });

    const models = await client.models.list();
    const id = path.basename(model, '.gguf');
    check(models.data.length === 1 && models.data[0].id === id, `models ${JSON.stringify(models.data)}`);

    const messages = [{ role: 'user', content: 'Tell me a story.' }];
    const chat = await client.chat.completions.create({ model: id, messages, max_tokens: 24, temperature: 0 });
    const content = chat.choices[0].message.content;
    check(chat.usage.completion_tokens >= 1 && chat.usage.total_tokens === chat.usage.prompt_tokens + chat.usage.completion_tokens,
      `chat usage ${JSON.stringify(chat.usage)}`);
    let streamed = '';
    let usage = null;
    const stream = await client.chat.completions.create({ model: id, messages, max_tokens: 24, temperature: 0, stream: true,
      stream_options: { include_usage: true } });
    for await (const chunk of stream) {
      if (chunk.choices.length)
        streamed += chunk.choices[0].delta.content || '';
      if (chunk.usage)
        usage = chunk.usage;
    }
    check(streamed === content, `streamed chat ${JSON.stringify(streamed)} vs ${JSON.stringify(content)}`);
    check(usage && usage.total_tokens === chat.usage.total_tokens, `stream usage ${JSON.stringify(usage)}`);

    const text = await client.completions.create({ model: id, prompt: 'Once upon a time', max_tokens: 16, temperature: 0 });
    let streamedText = '';
    for await (const chunk of await client.completions.create({ model: id, prompt: 'Once upon a time', max_tokens: 16,
      temperature: 0, stream: true }))
      streamedText += chunk.choices[0].text;
    check(streamedText === text.choices[0].text, 'streamed text completion');

    let refused = false;
    try {
      await new OpenAI({ apiKey: 'wrong', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 }).models.list();
    } catch (e) {
      refused = e.status === 401;
    }
    check(refused, 'a wrong key is refused with 401');
    console.log(`serve_openai: the openai client (${require('openai/version').VERSION}) completed, streamed and listed models`);
  } finally {
    server.kill('SIGTERM');
  }
}

main().catch((e) => {
  console.error(`serve_openai: FAILED: ${e.message}`);
  process.exit(1);
});

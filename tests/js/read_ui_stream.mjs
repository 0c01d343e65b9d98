// Consume llmstream's /api/chat exactly as useChat does: the AI SDK's own DefaultChatTransport
// (fetch, SSE parsing, uiMessageChunkSchema validation) into readUIMessageStream.
// usage: node read_ui_stream.mjs URL < {"messages": [...], "body": {...}}
// prints {"message": <last UIMessage>, "chunks": [chunk types], "errors": [...]}
import { DefaultChatTransport, readUIMessageStream } from "ai";

const url = process.argv[2];
let input = "";
for await (const piece of process.stdin) input += piece;
const { messages, body } = JSON.parse(input);

const transport = new DefaultChatTransport({ api: url, body });
const errors = [];
const types = [];
const raw = await transport.sendMessages({
  chatId: "chat-js", messages, trigger: "submit-message", messageId: undefined, abortSignal: undefined,
});
const watched = raw.pipeThrough(new TransformStream({
  transform(chunk, controller) { types.push(chunk.type); controller.enqueue(chunk); },
}));
let message = null;
for await (const snapshot of readUIMessageStream({ stream: watched, onError: (e) => errors.push(String(e)) })) {
  message = snapshot;
}
process.stdout.write(JSON.stringify({ message, chunks: types, errors }));

// The demo page's behaviour: the WebSocket chat, the JSON API and the streamed response.
"use strict";

function connectChat() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/ws`);
  const state = document.getElementById("chat-state");
  const list = document.getElementById("messages");

  socket.addEventListener("open", () => { state.textContent = "connected"; });
  socket.addEventListener("close", (event) => {
    state.textContent = `disconnected (${event.code}); reconnecting in 2 s`;
    setTimeout(connectChat, 2000);
  });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    const item = document.createElement("li");
    if (message.error) {
      item.textContent = `error: ${message.error}`;
    } else {
      const author = document.createElement("span");
      author.className = "author";
      author.textContent = `${message.author}: `;
      item.append(author, message.text);
      if (message.history) item.className = "history";
    }
    list.append(item);
    list.scrollTop = list.scrollHeight;
  });

  document.getElementById("chat-form").onsubmit = (event) => {
    event.preventDefault();
    const text = document.getElementById("text");
    const author = document.getElementById("author").value || "anonymous";
    if (socket.readyState === WebSocket.OPEN && text.value.trim()) {
      socket.send(JSON.stringify({ author, text: text.value }));
      text.value = "";
    }
  };
}

async function loadMessages() {
  const response = await fetch("/api/messages");
  document.getElementById("api-output").textContent =
    JSON.stringify(await response.json(), null, 2);
}

async function startStream() {
  const output = document.getElementById("stream-output");
  output.textContent = "";
  const response = await fetch("/stream?count=10&interval=0.5");
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    output.textContent += value;  // each chunk as it arrives
  }
}

connectChat();
document.getElementById("load-messages").onclick = loadMessages;
document.getElementById("start-stream").onclick = startStream;

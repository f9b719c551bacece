// A small graphql-transport-ws client: connection_init with the token, one subscription,
// ping/pong, and reconnection with backoff. `resumeAfter()` names the last cursor seen, so a
// reconnected subscription starts where the last one stopped and nothing is missed.

const PROTOCOL = "graphql-transport-ws";
const KEEPALIVE_MS = 25000;

export class Live {
  /**
   * @param {object} options
   * @param {string} options.token the bearer token
   * @param {string} options.query the subscription document
   * @param {() => object} options.variables the variables of each (re)subscription
   * @param {(event: object) => void} options.onEvent each event
   * @param {(state: string, detail?: string) => void} options.onState "live", "reconnecting", "closed"
   */
  constructor(options) {
    this.options = options;
    this.socket = null;
    this.retry = 0;
    this.stopped = false;
    this.timer = null;
    this.awaitingPong = false;
    this.connectedOnce = false;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000, "Signed out");
  }

  open() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/graphql/ws`, PROTOCOL);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.send({ type: "connection_init", payload: { Authorization: `Bearer ${this.options.token}` } });
    });
    socket.addEventListener("message", (message) => this.receive(message.data));
    socket.addEventListener("close", (close) => this.closed(close));
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    switch (message.type) {
      case "connection_ack": {
        const resumed = this.connectedOnce;
        this.connectedOnce = true;
        this.retry = 0;
        this.send({ id: "events", type: "subscribe", payload: { query: this.options.query, variables: this.options.variables() } });
        this.options.onState("live", resumed ? "resumed" : "");
        this.keepalive();
        break;
      }
      case "next":
        if (message.payload?.data?.events) this.options.onEvent(message.payload.data.events);
        break;
      case "error":
        this.options.onState("error", message.payload?.[0]?.message ?? "The live updates were refused.");
        this.socket?.close(1000, "Subscription refused");
        break;
      case "complete":
        this.socket?.close(1000, "Subscription completed");
        break;
      case "ping":
        this.send({ type: "pong", payload: message.payload });
        break;
      case "pong":
        this.awaitingPong = false;
        break;
      default:
        break;
    }
  }

  /** A ping every 25 s; no pong by the next one means the connection is gone. */
  keepalive() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.awaitingPong) {
        this.socket?.close(4000, "No pong");
        return;
      }
      this.awaitingPong = true;
      this.send({ type: "ping" });
      this.keepalive();
    }, KEEPALIVE_MS);
  }

  closed(close) {
    clearTimeout(this.timer);
    this.awaitingPong = false;
    if (this.stopped) return;
    if (close.code === 4403 || close.code === 4401) {
      this.options.onState("closed", close.reason || "Your session ended.");
      return;
    }
    this.options.onState("reconnecting");
    const delay = Math.min(30000, 1000 * 2 ** this.retry) * (0.75 + Math.random() / 2);
    this.retry += 1;
    this.timer = setTimeout(() => this.open(), delay);
  }
}

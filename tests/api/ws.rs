//! A small graphql-transport-ws client (the protocol of the `graphql-ws` npm client), speaking to
//! a running server over a real WebSocket.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A connected, acknowledged client.
pub struct Client {
    socket: Socket,
    next_id: u32,
    /// Server pings seen (answered with pongs).
    pub pings: usize,
}

/// How a connection attempt ended.
pub enum Connected {
    Ready(Box<Client>),
    Closed(u16, String),
}

/// Opens a connection and sends `connection_init` with `payload`.
pub async fn connect(address: std::net::SocketAddr, payload: Value) -> Connected {
    let mut request = format!("ws://{address}/graphql/ws")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    socket
        .send(Message::Text(
            json!({ "type": "connection_init", "payload": payload })
                .to_string()
                .into(),
        ))
        .await
        .expect("init");
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let message: Value = serde_json::from_str(&text).expect("json");
                if message["type"] == "connection_ack" {
                    return Connected::Ready(Box::new(Client {
                        socket,
                        next_id: 0,
                        pings: 0,
                    }));
                }
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                let frame = frame.expect("close frame");
                return Connected::Closed(frame.code.into(), frame.reason.to_string());
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("no answer to connection_init: {other:?}"),
        }
    }
}

/// Connects with a bearer token and expects an acknowledgement.
pub async fn client(address: std::net::SocketAddr, token: &str) -> Client {
    match connect(
        address,
        json!({ "authorization": format!("Bearer {token}") }),
    )
    .await
    {
        Connected::Ready(client) => *client,
        Connected::Closed(code, reason) => panic!("closed {code}: {reason}"),
    }
}

impl Client {
    /// Starts a subscription; returns its id.
    pub async fn subscribe(&mut self, query: &str, variables: Value) -> String {
        self.next_id += 1;
        let id = self.next_id.to_string();
        self.socket
            .send(Message::Text(
                json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } })
                    .to_string()
                    .into(),
            ))
            .await
            .expect("subscribe");
        id
    }

    /// Starts an operation with a whole `subscribe` payload (e.g. a persisted query's
    /// `extensions`); returns its id.
    pub async fn subscribe_with(&mut self, payload: Value) -> String {
        self.next_id += 1;
        let id = self.next_id.to_string();
        self.socket
            .send(Message::Text(
                json!({ "id": id, "type": "subscribe", "payload": payload })
                    .to_string()
                    .into(),
            ))
            .await
            .expect("subscribe");
        id
    }

    /// The next `next`/`error`/`complete` message, answering pings; None after `wait`.
    pub async fn message(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let message: Value = serde_json::from_str(&text).expect("json");
                    if message["type"] == "ping" {
                        self.pings += 1;
                        self.socket
                            .send(Message::Text(json!({ "type": "pong" }).to_string().into()))
                            .await
                            .ok();
                        continue;
                    }
                    return Some(message);
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    let code: u16 = frame.map_or(1005, |f| f.code.into());
                    return Some(json!({ "type": "close", "code": code }));
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_))) | Ok(None) => return Some(json!({ "type": "closed" })),
                Err(_) => return None,
            }
        }
    }

    /// The payload `data` of the next `next` message (panics on anything else).
    pub async fn next_data(&mut self) -> Value {
        let message = self
            .message(Duration::from_secs(10))
            .await
            .expect("an event within 10 s");
        assert_eq!(message["type"], "next", "{message}");
        message["payload"]["data"].clone()
    }

    /// Asserts nothing arrives for `wait`.
    pub async fn quiet(&mut self, wait: Duration) {
        if let Some(message) = self.message(wait).await {
            panic!("unexpected message {message}");
        }
    }
}

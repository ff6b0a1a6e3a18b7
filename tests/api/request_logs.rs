//! Requests you can follow: the request id of an `INTERNAL` answer finds its log lines.

use std::sync::{Arc, Mutex};

use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::helpers::spawn_app;

/// Log output kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn an_internal_answers_request_id_finds_its_log_lines_with_the_operation_name() {
    // The format `serve` logs in; the subscriber is this test's thread's alone, and the test
    // runtime runs the app (and the tasks it spawns) on this thread.
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let app = spawn_app().await;
    app.db
        .execute_unprepared("DROP TABLE bill_lines")
        .await
        .unwrap();
    app.db.execute_unprepared("DROP TABLE bills").await.unwrap();
    let reply = app
        .post(
            &app.admin.clone(),
            "query OpenBills { bills { totalCount } }",
            json!({}),
        )
        .await;
    let error = &reply.body["errors"][0];
    assert_eq!(error["extensions"]["code"], "INTERNAL");
    let request_id = error["extensions"]["requestId"].as_str().unwrap();
    let text = logs.text();
    let span = format!("request{{request_id={request_id} operation=OpenBills}}");
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(&span)).collect();
    assert!(
        lines.iter().any(|l| l.contains("internal error")),
        "no line of request {request_id} says what went wrong:\n{text}"
    );
    // Another request has another id.
    let again = app
        .post(&app.admin.clone(), "{ bills { totalCount } }", json!({}))
        .await;
    let other = again.body["errors"][0]["extensions"]["requestId"]
        .as_str()
        .unwrap();
    assert_ne!(other, request_id);
    assert!(logs
        .text()
        .contains(&format!("request{{request_id={other}}}")));
}

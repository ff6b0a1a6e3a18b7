//! Requests you can follow: the request id of an `INTERNAL` answer finds its log lines.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, Once};

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

thread_local! {
    /// Where the log lines written on this thread go, if anywhere.
    static CAPTURE: RefCell<Option<Captured>> = const { RefCell::new(None) };
}

/// Appends to the capture of the thread that writes, or drops the bytes.
struct ThreadCapture;

impl std::io::Write for ThreadCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with_borrow(|capture| {
            if let Some(capture) = capture {
                capture.0.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures the log lines written on this thread from now on. The subscriber is the process's
/// global one, in the format `serve` logs in: a subscriber of this thread alone would share
/// tracing's per-callsite cache with the other tests' threads, which (having none) can switch
/// a callsite off for everyone. The test runtime runs the app on the test's thread.
fn capture_this_thread() -> Captured {
    static GLOBAL: Once = Once::new();
    GLOBAL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| ThreadCapture)
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
    let captured = Captured::default();
    CAPTURE.set(Some(captured.clone()));
    captured
}

#[tokio::test]
async fn an_internal_answers_request_id_finds_its_log_lines_with_the_operation_name() {
    let logs = capture_this_thread();
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

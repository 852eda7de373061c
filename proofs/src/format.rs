//! Short, readable renderings of actions and messages for counterexample traces.

use rampart_minbft::wire::{Message, Prepare, Request};
use rampart_usig::{Certificate, Ui};

use crate::byzantine::{ByzAction, Target};
use crate::model::{Action, Envelope, Node};

fn node(n: Node) -> String {
    match n {
        Node::Replica(r) => format!("r{r}"),
        Node::Client(c) => format!("c{c}"),
    }
}

fn ui(u: &Ui) -> String {
    let junk = matches!(u.cert, Certificate::HmacSha256(t) if t == [0xAB; 32]);
    format!("ui {}:{}{}", u.usig.0, u.counter, if junk { " FORGED" } else { "" })
}

fn request(r: &Request) -> String {
    let garbage = r.authenticator.iter().all(|t| *t == [0; 32]);
    format!("c{}#{}{}", r.client.0, r.request_id, if garbage { " BAD-AUTH" } else { "" })
}

fn prepare(p: &Prepare) -> String {
    let batch: Vec<String> = p.batch.iter().map(request).collect();
    format!("Prepare(v{} r{} s{} [{}] {})", p.view, p.replica.0, p.seq, batch.join(", "), ui(&p.ui))
}

/// One message, briefly.
pub fn message(m: &Message) -> String {
    match m {
        Message::Request(r) => format!("Request({})", request(r)),
        Message::Reply(r) => format!("Reply(r{} v{} c{}#{} result {:?})", r.replica.0, r.view, r.client.0, r.request_id, r.result),
        Message::Prepare(p) => prepare(p),
        Message::Commit(c) => format!("Commit(r{} {} of {})", c.replica.0, ui(&c.ui), prepare(&c.prepare)),
        Message::Checkpoint(c) => format!("Checkpoint(r{} s{} {})", c.replica.0, c.seq, ui(&c.ui)),
        Message::ReqViewChange(r) => format!("ReqViewChange(r{} to v{})", r.replica.0, r.new_view),
        Message::ViewChange(v) => {
            format!("ViewChange(r{} to v{} cert s{} log {} {})", v.replica.0, v.new_view, v.checkpoint.seq, v.log.len(), ui(&v.ui))
        }
        Message::NewView(n) => {
            let from: Vec<String> = n.view_changes.iter().map(|v| format!("r{}", v.replica.0)).collect();
            format!("NewView(r{} v{} from [{}] {})", n.replica.0, n.new_view, from.join(","), ui(&n.ui))
        }
        Message::StateRequest(r) => format!("StateRequest(r{} exec s{} v{})", r.replica.0, r.executed_seq, r.view),
        Message::StateReply(r) => format!(
            "StateReply(r{} checkpoint {:?} new_view {} log {})",
            r.replica.0,
            r.checkpoint.as_ref().map(|t| t.cert.seq),
            r.new_view.is_some(),
            r.log.len()
        ),
        Message::Status(s) => format!("Status(r{} v{} exec s{} last {})", s.replica.0, s.view, s.executed_seq, s.last_counter),
    }
}

fn envelope(e: &Envelope) -> String {
    format!("{}->{}: {}", node(e.from), node(e.to), message(&e.message))
}

fn target(t: Target) -> String {
    match t {
        Target::One(r) => format!("r{r}"),
        Target::AllCorrect => "all".to_string(),
    }
}

/// One action, briefly.
pub fn action(a: &Action) -> String {
    match a {
        Action::Deliver(e) => format!("deliver {}", envelope(e)),
        Action::DeliverAndDuplicate(e) => format!("deliver (and keep a duplicate) {}", envelope(e)),
        Action::Drop(e) => format!("drop {}", envelope(e)),
        Action::Timeout(n, t) => format!("timeout {} {:?}", node(*n), t),
        Action::Submit(c) => format!("submit c{c}"),
        Action::Restart(r) => format!("crash r{r} and restart it from its pristine image in a new USIG epoch"),
        Action::Byzantine(b) => format!(
            "byzantine: {}",
            match b {
                ByzAction::Propose { view, seq, request: r, to } =>
                    format!("propose v{view} s{seq} [{}] to {}", r.as_ref().map_or("garbage request".to_string(), request), target(*to)),
                ByzAction::Commit { prepare: p, to } => format!("commit {} to {}", prepare(p), target(*to)),
                ByzAction::Replay { message: m, to } => format!("replay {} to r{to}", message(m)),
                other => format!("{other:?}"),
            }
        ),
    }
}

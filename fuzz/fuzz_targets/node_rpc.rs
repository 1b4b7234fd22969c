//! Node RPC bodies (`/node/run`, `/node/cancel`, `/node/report`, `/node/heartbeat`) and the
//! answers a node decodes: every decoder either refuses the bytes (the route's 400) or returns
//! a value that re-encodes stably; none panics.
//!
//! Input: one byte choosing the route (`r`un, `c`ancel, re`p`ort, `h`eartbeat, repl`y`; any
//! other byte tries them all), then the body.
#![no_main]

use dkron_node::fuzz::{Route, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let chosen = match selector {
        b'r' => Some(Route::Run),
        b'c' => Some(Route::Cancel),
        b'p' => Some(Route::Report),
        b'h' => Some(Route::Heartbeat),
        b'y' => Some(Route::Reply),
        _ => None,
    };
    let routes = match chosen {
        Some(route) => vec![route],
        None => Route::ALL.to_vec(),
    };
    for route in routes {
        if let Err(problem) = decode(route, body) {
            panic!("{route:?}: {problem}");
        }
    }
});

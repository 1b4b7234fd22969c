//! Integration tests of dkron-executor: real processes, a real HTTP(S) server on 127.0.0.1.

mod http;
mod shell;
mod support;

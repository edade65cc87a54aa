//! The worker process: llama.cpp runs here, away from the window, so an abort inside it (a damaged
//! file, an out-of-memory) ends only this process. A reader thread takes request frames from stdin;
//! cancels it records at once in a shared set (so a running generation sees them between tokens),
//! everything else goes over a channel to the main thread, which owns the backend, the model and
//! its context and answers one request at a time. Only the main thread writes to stdout, and only
//! frames; logs go to stderr.

use std::collections::VecDeque;
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::LlamaModel;
use types::{HearthError, LoadedModelInfo};

use crate::error::EngineError;

use crate::outbox::{Cancels, EventSink};
use crate::protocol::{read_frame, Event, LoadParams, Request, RequestId};
use crate::session::Session;
use crate::vision::Vision;
use crate::{devices, file_name, logs};

/// The worker's entry point: serves requests from stdin until stdin closes.
pub fn run_worker() -> ExitCode {
    // A copy started to make a grammar (`grammar`) does only that.
    if let Some(code) = crate::grammar::serve_if_asked() {
        return code;
    }
    logs::init();
    let (tx, rx) = mpsc::channel();
    let cancels = Cancels::default();
    let reader_cancels = cancels.clone();
    let reader = std::thread::Builder::new().name("engine-stdin".into()).spawn(move || {
        let mut stdin = std::io::stdin().lock();
        loop {
            match read_frame::<_, Request>(&mut stdin) {
                Ok(Some(Request::Cancel { id })) => reader_cancels.insert(id),
                Ok(Some(request)) => {
                    if tx.send(request).is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::error!("bad request frame, stopping: {e}");
                    break;
                }
            }
        }
    });
    if let Err(e) = reader {
        tracing::error!("could not start the request reader: {e}");
        return ExitCode::FAILURE;
    }
    let backends = devices::load_backends();
    // The host reads this line to know which CPU variant a worker that dies of an illegal
    // instruction was running (`host.rs`): the worker cannot say so itself then.
    if let Some(variant) = devices::cpu_variant() {
        eprintln!("{}{variant}", devices::VARIANT_LINE);
    }
    let backend = match LlamaBackend::init() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("llama.cpp did not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let worker = Worker { backend, rx, cancels, out: EventSink, backends };
    worker.run();
    ExitCode::SUCCESS
}

struct Worker {
    backend: LlamaBackend,
    rx: Receiver<Request>,
    cancels: Cancels,
    out: EventSink,
    /// What loading llama.cpp's backend libraries reported.
    backends: devices::Loaded,
}

impl Worker {
    fn run(&self) {
        let mut next = None;
        loop {
            let Some(request) = next.take().or_else(|| self.rx.recv().ok()) else { return };
            match request {
                Request::Load { id, params } => next = self.serve(id, &params),
                Request::Unload { id } => self.send(&Event::Unloaded { id }),
                Request::Devices { id } => self.send(&Event::Devices { id, report: devices::report(&self.backends) }),
                Request::Generate { id, .. } | Request::Tokenize { id, .. } | Request::Bench { id, .. } | Request::Embed { id, .. } => {
                    self.send(&Event::error(id, &no_model()));
                    self.cancels.forget_below(id + 1);
                }
                Request::Cancel { .. } => {}
            }
        }
    }

    fn send(&self, event: &Event) {
        if let Err(e) = self.out.send(event) {
            tracing::warn!("could not send an event to the host: {e}");
        }
    }

    /// Loads a model and answers requests with it until it is unloaded or replaced; returns the
    /// request that replaces it, if any.
    fn serve(&self, load_id: RequestId, params: &LoadParams) -> Option<Request> {
        let started = Instant::now();
        let threads = params.n_threads.map_or_else(physical_cores, |n| n.max(1) as i32);
        logs::start_capture();
        let model = match self.load_model(load_id, params) {
            Ok(m) => m,
            Err(e) => {
                logs::take_capture();
                self.send(&Event::error(load_id, &e));
                return None;
            }
        };
        let session = Session::new(&self.backend, &model, params, threads);
        let model_lines = logs::peek_capture();
        let vision = match &params.projector {
            Some(path) if session.is_ok() => Some(Vision::load(&model, path, !params.devices.is_empty(), threads, &logs::peek_capture)),
            _ => None,
        };
        let lines = logs::take_capture();
        let sizes = logs::buffer_sizes(&model_lines);
        let mut session = match session {
            Ok(s) => s,
            Err(e) => {
                self.send(&Event::error(load_id, &e));
                return None;
            }
        };
        let vision_info = match vision {
            None => None,
            Some(Err(e)) => {
                self.send(&Event::error(load_id, &e));
                return None;
            }
            Some(Ok(v)) => {
                let projector = logs::projector_sizes(&lines[model_lines.len()..]);
                let info = types::VisionInfo {
                    file: params.projector.as_deref().map(file_name).unwrap_or_default(),
                    image_side: v.image_side,
                    weights_bytes: projector.weights,
                    compute_bytes: projector.compute,
                };
                session.vision = Some(v);
                Some(info)
            }
        };
        // A first decode now, as llama.cpp's own tools warm up: a CPU variant that traps on this
        // machine does so while loading, where the host starts again without it, not on the
        // person's first prompt.
        devices::trap_if_asked();
        if let Err(e) = session.warm_up() {
            // Nothing is lost without it: the first prompt decodes as it would have.
            tracing::warn!("the warm-up decode failed: {}", e.message);
        }
        let info = LoadedModelInfo {
            model_size_bytes: model.size(),
            parameters: model.n_params(),
            n_ctx: session.n_ctx(),
            slots: session.n_slots() as u32,
            n_ctx_train: model.n_ctx_train(),
            n_layers: model.n_layer(),
            n_gpu_layers: params.n_gpu_layers.min(model.n_layer() + 1),
            n_threads: threads as u32,
            weights_bytes: sizes.weights,
            kv_cache_bytes: sizes.kv,
            compute_bytes: sizes.compute,
            has_chat_template: session.has_chat_template,
            takes_tools: session.takes_tools(),
            template: session.template_in_use.clone(),
            load_ms: started.elapsed().as_secs_f64() * 1000.0,
            devices: logs::device_buffers(&model_lines),
            vision: vision_info,
        };
        self.send(&Event::Loaded { id: load_id, info });
        self.serve_requests(&mut session, &params.path, threads)
    }

    /// Answers requests with a loaded model until it is unloaded or replaced; returns the request
    /// that replaces it, if any. Requests are taken in the order they came: a generation takes a
    /// free slot, or waits here for one (and everything behind it waits too, so the order is kept);
    /// a load, an unload or a bench needs the whole context, so it waits for the replies under way
    /// to end. Between requests, `step` decodes for every reply at once.
    fn serve_requests(&self, session: &mut Session, path: &std::path::Path, threads: i32) -> Option<Request> {
        let mut backlog: VecDeque<(Request, Instant)> = VecDeque::new();
        // The newest request id read from the host.
        let mut last_read = 0;
        loop {
            // Wait for work only when there is nothing to do.
            if session.is_idle() && backlog.is_empty() {
                let request = self.rx.recv().ok()?;
                last_read = last_read.max(request.id());
                backlog.push_back((request, Instant::now()));
            }
            while let Ok(request) = self.rx.try_recv() {
                last_read = last_read.max(request.id());
                backlog.push_back((request, Instant::now()));
            }
            // A waiting generation that was cancelled ends now rather than when a slot frees.
            backlog.retain(|(request, _)| match request {
                Request::Generate { id, .. } if self.cancels.contains(*id) => {
                    self.send(&Event::Done { id: *id, stats: crate::reply::no_stats() });
                    false
                }
                _ => true,
            });
            while let Some((request, received)) = backlog.pop_front() {
                let waits = match &request {
                    Request::Generate { .. } => !session.has_free_slot(),
                    Request::Load { .. } | Request::Unload { .. } | Request::Bench { .. } => !session.is_idle(),
                    _ => false,
                };
                if waits {
                    backlog.push_front((request, received));
                    break;
                }
                match request {
                    Request::Load { .. } => return Some(request),
                    Request::Unload { id } => {
                        self.send(&Event::Unloaded { id });
                        return None;
                    }
                    Request::Generate { id, params: request } if request.model.as_ref().is_some_and(|m| m != path) => {
                        let asked = request.model.as_deref().map(file_name).unwrap_or_default();
                        let replaced = EngineError::Replaced { asked, loaded: file_name(path) };
                        self.send(&Event::error(id, &replaced.into()));
                    }
                    Request::Generate { id, params } => match session.start(id, &params, received) {
                        Ok((prompt_tokens, cached_tokens)) => self.send(&Event::Started { id, prompt_tokens, cached_tokens }),
                        Err(e) => self.send(&Event::error(id, &e)),
                    },
                    Request::Devices { id } => self.send(&Event::Devices { id, report: devices::report(&self.backends) }),
                    Request::Tokenize { id, text, add_special } => {
                        let tokens = session.tokenize(&text, add_special).into_iter().map(|t| t.0).collect();
                        self.send(&Event::Tokens { id, tokens });
                    }
                    Request::Embed { id, inputs } => match session.embed(&self.backend, &inputs, threads, || self.cancels.contains(id)) {
                        Ok((vectors, tokens)) => self.send(&Event::Embeddings { id, vectors, tokens }),
                        Err(e) => self.send(&Event::error(id, &e)),
                    },
                    Request::Bench { id, params } => match session.bench(id, &params, &self.cancels) {
                        Ok(mut result) => {
                            result.n_threads = threads as u32;
                            self.send(&Event::BenchResult { id, result });
                        }
                        Err(e) => self.send(&Event::error(id, &e)),
                    },
                    Request::Cancel { .. } => {}
                }
            }
            for (id, result) in session.step(&self.out, &self.cancels) {
                match result {
                    Ok(stats) => self.send(&Event::Done { id, stats }),
                    Err(e) => self.send(&Event::error(id, &e)),
                }
            }
            // Cancels of requests that have ended are forgotten: every id below the oldest one
            // still here has ended, and so has every id read so far when none is.
            let oldest = session.running().chain(backlog.iter().map(|(r, _)| r.id())).min();
            self.cancels.forget_below(oldest.unwrap_or(last_read + 1));
        }
    }

    fn load_model(&self, id: RequestId, params: &LoadParams) -> Result<LlamaModel, HearthError> {
        let path = &params.path;
        if !path.is_file() {
            return Err(EngineError::FileMissing { path: path.clone() }.into());
        }
        let out = self.out;
        let mut last = -1.0f32;
        let device_indices = device_indices(&params.devices)?;
        let mparams = crate::llama_params::model_params(params, &device_indices)?.with_progress_callback(move |fraction| {
            // About a hundred events for a whole load is plenty for a progress bar.
            if fraction - last >= 0.01 || fraction >= 1.0 {
                last = fraction;
                // A host that stopped listening ends the load.
                return out.send(&Event::LoadProgress { id, fraction }).is_ok();
            }
            true
        });
        Ok(LlamaModel::load_from_file(&self.backend, path, &mparams)
            .map_err(|e| EngineError::LoadFailed { path: path.clone(), reason: e.to_string() })?)
    }
}

/// llama.cpp's device indices for the names a plan gives ("Vulkan0"). A name the engine does not
/// have is an error rather than a silent fall back to the CPU.
fn device_indices(names: &[String]) -> Result<Vec<usize>, HearthError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let all = llama_cpp_2::list_llama_ggml_backend_devices();
    names
        .iter()
        .map(|name| {
            all.iter().position(|d| d.name == *name).ok_or_else(|| {
                let have = all.iter().map(|d| d.name.clone()).collect();
                HearthError::from(EngineError::NoSuchDevice { name: name.clone(), have })
            })
        })
        .collect()
}

fn no_model() -> HearthError {
    EngineError::NoModel.into()
}

/// llama.cpp decodes fastest with one thread per physical core; more threads (hyper-threads) slow it.
pub fn physical_cores() -> i32 {
    sysinfo::System::physical_core_count()
        .ok()
        .filter(|&n| n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .map_or(4, |n| n as i32)
}

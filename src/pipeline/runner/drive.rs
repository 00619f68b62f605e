//! An execution's task: driving it through its stages — router steps with retries,
//! analyses started and watched, targets waited for — and recording each transition.

use super::*;

impl PipelineRunner {
    pub(super) async fn drive(
        &self,
        id: &str,
        tx: mpsc::UnboundedSender<(Event, Option<Reply>)>,
        rx: &mut mpsc::UnboundedReceiver<(Event, Option<Reply>)>,
        outage: &mut Option<(f64, u32, String)>,
    ) -> Result<(), Stop> {
        let (rec, spec) = self.load(id).await?;
        // The allow-list is checked again here: a daemon restarted with a shorter list must
        // not run what it no longer allows. The execution is not stranded for it: a smoke
        // test whose program is refused fails (its retries, then the rollback, follow) and a
        // router that is refused fails its call (the execution fails, its target is freed).
        let refused: HashMap<String, String> = spec
            .disallowed_programs(&self.settings.allowed_commands)
            .into_iter()
            .collect();
        let trigger: Trigger =
            serde_json::from_value(rec.trigger.clone()).map_err(|e| Stop::Other(e.to_string()))?;
        let routers = self.build_routers(&spec, &refused);
        let mut exec: Execution =
            serde_json::from_value(rec.state.clone()).map_err(|e| Stop::Other(e.to_string()))?;
        let notifier = Notifier::start(&spec, id, &self.webhooks);
        let ctx = Ctx {
            id,
            spec: &spec,
            version: rec.version,
            trigger: &trigger,
            routers: &routers,
            notifier: &notifier,
            tx: &tx,
            refused: &refused,
        };
        let mut seq = rec.seq;
        // Back from a store outage: say so in the event log (the state is unchanged).
        // Kept until the note is stored: a store failing again notes it on the next try.
        if let Some(o) = outage.clone() {
            seq += self.note_recovery(id, &rec, &exec, seq, o).await?;
            *outage = None;
        }
        if !exec.status.is_final() {
            seq = self
                .wait_for_targets(id, &rec, &spec, seq, rx)
                .await
                .map_err(Stop::Store)?;
        }
        let mut actions = exec.pending(&spec);
        let mut ready: VecDeque<Event> = VecDeque::new();
        let mut wake: Option<f64> = None;
        loop {
            // The final transition's actions (its notifications) are performed too.
            for action in std::mem::take(&mut actions) {
                self.perform(&ctx, &exec, action, &mut ready, &mut wake)
                    .await;
            }
            if exec.status.is_final() {
                return Ok(());
            }
            let (event, reply) = match ready.pop_front() {
                Some(e) => (e, None),
                None => match self.next_event(rx, &mut wake).await {
                    Some(m) => m,
                    None => return Ok(()),
                },
            };
            let t = match step(&spec, &exec, &event) {
                Ok(t) => t,
                Err(rejected) => {
                    if let Some(r) = reply
                        && r.send(Err(SubmitError::Refused(rejected.to_string())))
                            .is_err()
                    {
                        // The operator stopped waiting (a queued event): say it here.
                        tracing::warn!(execution = %id, event = ?event, %rejected,
                            "a queued operator event was not applicable");
                    }
                    continue;
                }
            };
            // Stored before any of the transition's side effects.
            self.record(id, &spec, seq, &t, (event, reply), &tx).await?;
            seq += 1;
            exec = t.next;
            actions = t.actions;
            wake = next_wake(&spec, &exec, &actions);
        }
    }

    /// The execution's record and the pipeline version it runs.
    async fn load(&self, id: &str) -> Result<(ExecutionRecord, Pipeline), Stop> {
        let key = id.to_string();
        let rec = blocking(&self.store, move |s| s.get_execution(&key))
            .await
            .map_err(Stop::store)?
            .ok_or_else(|| Stop::Other(format!("no execution `{id}`")))?;
        let (name, version) = (rec.pipeline.clone(), rec.version);
        let spec_rec = blocking(&self.store, move |s| s.get_pipeline(&name, Some(version)))
            .await
            .map_err(Stop::store)?
            .ok_or_else(|| {
                Stop::Other(format!(
                    "pipeline {} v{} is gone",
                    rec.pipeline, rec.version
                ))
            })?;
        let spec = Pipeline::parse(&spec_rec.body, &spec_rec.name)
            .map_err(|e| Stop::Other(e.join("; ")))?;
        Ok((rec, spec))
    }

    /// Each target's router; a router the allow-list refuses, or one that cannot be built,
    /// fails its calls with the reason.
    fn build_routers(
        &self,
        spec: &Pipeline,
        refused: &HashMap<String, String>,
    ) -> Vec<Box<dyn TrafficRouter>> {
        spec.targets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let refusal = ["command", "read_command"]
                    .iter()
                    .find_map(|f| refused.get(&format!("targets[{i}].router.{f}")));
                match (refusal, t.router.build_with(&self.webhooks)) {
                    (Some(why), _) => Box::new(RefusedRouter {
                        message: format!("targets[{i}].router: {why}"),
                    }) as Box<dyn TrafficRouter>,
                    (None, Ok(r)) => r,
                    (None, Err(e)) => Box::new(RefusedRouter {
                        message: format!("targets[{i}].router cannot be built: {e}"),
                    }),
                }
            })
            .collect()
    }

    /// Record that the store came back after an outage (the state is unchanged): 1 when
    /// the note was stored, else 0.
    async fn note_recovery(
        &self,
        id: &str,
        rec: &ExecutionRecord,
        exec: &Execution,
        seq: i64,
        (since, attempts, error): (f64, u32, String),
    ) -> Result<i64, Stop> {
        let event = ExecutionEvent {
            execution_id: id.to_string(),
            seq: 0,
            at_ms: self.now_ms(),
            kind: "store recovered".into(),
            detail: json!({
                "detail": format!(
                    "the store failed for {} s ({attempts} attempts; last: {error}); resumed from the stored state",
                    canary_judges::format_number(self.now_s() - since)
                ),
                "split": exec.split,
            }),
        };
        let (key, status, state) = (id.to_string(), rec.status.clone(), rec.state.clone());
        let expected = seq;
        let at = self.now_ms();
        let applied = blocking(&self.store, move |s| {
            s.apply_transition(&key, expected, &status, &state, at, &[event])
        })
        .await
        .map_err(Stop::store)?;
        Ok(i64::from(applied))
    }

    /// Store a transition (if the execution is still at `expected`) and answer the
    /// operator waiting on its event. A store failure puts an operator's event back in line
    /// for when the store is back (the task's own events are made again from the stored
    /// state then); another writer having moved the execution stops this task.
    async fn record(
        &self,
        id: &str,
        spec: &Pipeline,
        expected: i64,
        t: &Transition,
        (event, reply): (Event, Option<Reply>),
        tx: &mpsc::UnboundedSender<(Event, Option<Reply>)>,
    ) -> Result<(), Stop> {
        let state = serde_json::to_value(&t.next).map_err(|e| Stop::Other(e.to_string()))?;
        let applied = match self.store_transition(id, spec, expected, t, state).await {
            Ok(applied) => applied,
            Err(e) => {
                if let Some(r) = reply {
                    let _ = tx.send((event, Some(r)));
                }
                return Err(Stop::store(e));
            }
        };
        if !applied {
            if let Some(r) = reply {
                let _ = r.send(Err(SubmitError::Refused(
                    "the execution changed meanwhile; try again".into(),
                )));
            }
            return Err(Stop::Other(
                "another writer changed the execution; stopping this task".into(),
            ));
        }
        if let Some(r) = reply {
            let _ = r.send(Ok(()));
        }
        Ok(())
    }

    /// Store a transition and its notes, if the execution is still at `expected`.
    async fn store_transition(
        &self,
        id: &str,
        spec: &Pipeline,
        expected: i64,
        t: &Transition,
        state: serde_json::Value,
    ) -> Result<bool, StoreError> {
        let events = transition_events(id, spec, t);
        let status = status_name(t.next.status);
        let key = id.to_string();
        let at = self.now_ms();
        blocking(&self.store, move |s| {
            s.apply_transition(&key, expected, status, &state, at, &events)
        })
        .await
    }

    /// The next event: an operator's or the daemon's message, or a tick when the wake-up
    /// time comes; `None` when every sender is gone.
    async fn next_event(
        &self,
        rx: &mut mpsc::UnboundedReceiver<(Event, Option<Reply>)>,
        wake: &mut Option<f64>,
    ) -> Option<(Event, Option<Reply>)> {
        let sleep = wake.map(|w| crate::time::duration((w - self.now_s()).max(0.0)));
        tokio::select! {
            m = rx.recv() => m,
            _ = async {
                match sleep {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            } => {
                *wake = None;
                Some((Event::Tick { now: self.now_s() }, None))
            }
        }
    }

    pub(super) async fn perform(
        &self,
        c: &Ctx<'_>,
        exec: &Execution,
        action: Action,
        ready: &mut VecDeque<Event>,
        wake: &mut Option<f64>,
    ) {
        let (id, spec, routers, tx) = (c.id, c.spec, c.routers, c.tx);
        let ctx = |target: usize| RouteContext {
            target: spec.targets[target].name.clone(),
            execution: id.to_string(),
            stage: spec
                .stages
                .get(exec.stage)
                .map(|s| s.name.clone())
                .unwrap_or_default(),
        };
        match action {
            Action::SetSplit { target, percent } => {
                let c = ctx(target);
                let r = self
                    .with_retries(|| routers[target].set(Split::canary(percent), &c))
                    .await;
                ready.push_back(self.router_event(routers[target].as_ref(), r).await);
            }
            Action::DisableBaseline { target } => {
                let c = ctx(target);
                let r = self
                    .with_retries(|| routers[target].set_enabled(Group::Baseline, false, &c))
                    .await;
                ready.push_back(self.router_event(routers[target].as_ref(), r).await);
            }
            Action::StartAnalysis { target: _, stage } => {
                match self.start_analysis(spec, stage, c.trigger).await {
                    Ok(analysis) => {
                        ready.push_back(Event::AnalysisStarted {
                            now: self.now_s(),
                            analysis: analysis.clone(),
                        });
                        self.watch(analysis, tx.clone());
                    }
                    Err(e) => ready.push_back(Event::AnalysisDone {
                        now: self.now_s(),
                        outcome: AnalysisOutcome::NoVerdict,
                        summary: e,
                    }),
                }
            }
            Action::WatchAnalysis { analysis } => self.watch(analysis, tx.clone()),
            Action::RunSmokeTest { stage, .. } => {
                if let Some(why) = c.refused.get(&format!("stages[{stage}].command")) {
                    ready.push_back(Event::SmokeDone {
                        now: self.now_s(),
                        ok: false,
                        detail: format!("not run: {why}"),
                    });
                } else if let Some(StageKind::SmokeTest(smoke)) =
                    spec.stages.get(stage).map(|s| &s.kind)
                {
                    let (smoke, http, tx) = (smoke.clone(), self.http.clone(), tx.clone());
                    let clock = self.settings.clock.clone();
                    tokio::spawn(async move {
                        let r = crate::pipeline::smoke::run(&smoke, &http).await;
                        let _ = tx.send((
                            Event::SmokeDone {
                                now: clock.now_s(),
                                ok: r.ok,
                                detail: r.detail,
                            },
                            None,
                        ));
                    });
                }
            }
            Action::WakeAt { at } => *wake = Some(wake.map_or(at, |w| w.min(at))),
            Action::Notify { kind, message } => c.notifier.send(&Message::new(
                spec,
                c.version,
                id,
                exec,
                kind,
                message,
                self.now_s(),
            )),
        }
    }

    /// Wait, traffic untouched, while an execution created earlier drives one of this
    /// execution's targets (a queued start, or two executions left over from before a
    /// restart). Operators' events are refused meanwhile: even a rollback would move the
    /// other execution's traffic. Records one `queued` event; returns the new sequence.
    pub(super) async fn wait_for_targets(
        &self,
        id: &str,
        rec: &ExecutionRecord,
        spec: &Pipeline,
        mut seq: i64,
        rx: &mut mpsc::UnboundedReceiver<(Event, Option<Reply>)>,
    ) -> Result<i64, String> {
        let mut told = false;
        loop {
            let ended = self.ended.notified();
            let Some(c) = self
                .conflict(spec, Some(id), Some((rec.created_ms, &rec.id)))
                .await
                .map_err(|e| e.to_string())?
            else {
                return Ok(seq);
            };
            if !told {
                told = true;
                tracing::info!(execution = %id, behind = %c.execution, target = %c.router, "queued");
                let event = ExecutionEvent {
                    execution_id: id.to_string(),
                    seq: 0,
                    at_ms: self.now_ms(),
                    kind: "queued".into(),
                    detail: json!({
                        "target": c.target,
                        "detail": format!(
                            "waiting for execution {} of pipeline `{}`, which drives {}",
                            c.execution, c.pipeline, c.router
                        ),
                        "behind": c.execution,
                    }),
                };
                let (key, status, state) = (id.to_string(), rec.status.clone(), rec.state.clone());
                let expected = seq;
                let at = self.now_ms();
                let applied = blocking(&self.store, move |s| {
                    s.apply_transition(&key, expected, &status, &state, at, &[event])
                })
                .await
                .map_err(|e| e.to_string())?;
                if !applied {
                    return Err("another writer changed the execution; stopping this task".into());
                }
                seq += 1;
            }
            tokio::select! {
                m = rx.recv() => match m {
                    Some((_, Some(reply))) => {
                        let _ = reply.send(Err(SubmitError::Refused(format!(
                            "the execution is queued behind execution {} (pipeline `{}`) and has not started; nothing changed",
                            c.execution, c.pipeline
                        ))));
                    }
                    Some((_, None)) => {}
                    None => return Err("the execution's task was stopped".into()),
                },
                _ = ended => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    }

    pub(super) async fn with_retries<F, Fut, T>(&self, mut call: F) -> Result<T, RouterError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, RouterError>>,
    {
        let mut attempt = 1;
        loop {
            match call().await {
                Err(e) if e.retryable && attempt < self.settings.router_attempts => {
                    tokio::time::sleep(self.settings.router_backoff * 2u32.pow(attempt - 1)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// The event of a router call; on failure the split is read back for the log.
    pub(super) async fn router_event<T>(
        &self,
        router: &dyn TrafficRouter,
        result: Result<T, RouterError>,
    ) -> Event {
        match result {
            Ok(_) => Event::RouterDone {
                now: self.now_s(),
                read_back: match router.current().await {
                    Ok(Some(s)) => Some(s.canary_percent),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the split back failed");
                        None
                    }
                },
            },
            Err(e) => {
                let known = match router.current().await {
                    Ok(Some(s)) => format!("the router reads canary {}%", s.canary_percent),
                    Ok(None) => "the router cannot report its split".to_string(),
                    Err(r) => format!("reading the split back failed too: {r}"),
                };
                Event::RouterFailed {
                    now: self.now_s(),
                    message: format!("{e}; {known}"),
                }
            }
        }
    }

    pub(super) async fn start_analysis(
        &self,
        spec: &Pipeline,
        stage: usize,
        trigger: &Trigger,
    ) -> Result<String, String> {
        let Some(StageKind::Analysis(a)) = spec.stages.get(stage).map(|s| &s.kind) else {
            return Err("no analysis at this stage".into());
        };
        let name = a.config.clone();
        let rec = blocking(&self.store, move |s| s.get_config_by_name(&name))
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no stored canary config named `{}`", a.config))?;
        let format = Format::from_name(&rec.format).unwrap_or(Format::Json);
        let config =
            CanaryConfig::parse(&rec.body, format, &rec.name).map_err(|e| e.to_string())?;
        let request = AnalysisRequest {
            baseline: trigger.baseline.clone(),
            canary: trigger.canary.clone(),
            window: WindowSpec::Live {
                start: None,
                interval: a.interval,
                max_duration: a.duration,
                warmup: a.warmup,
                step: a.step.unwrap_or(Seconds(10.0)),
                lag: None,
                fail_fast: a.fail_fast,
            }
            .resolve(self.now_s()),
            thresholds: None,
            scoring: None,
        };
        request
            .validate(&config, self.now_s())
            .map_err(|problems| {
                problems
                    .iter()
                    .map(|p| format!("{}: {}", p.field, p.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            })?;
        let analysis = new_record(
            &config,
            Some(rec.id),
            format,
            rec.body,
            None,
            &request,
            "pipeline",
        );
        let id = analysis.id.clone();
        blocking(&self.store, move |s| s.insert_analysis(&analysis))
            .await
            .map_err(|e| e.to_string())?;
        self.analyses.submit(id.clone());
        Ok(id)
    }

    /// Wait until an analysis ends — woken when its task ends, with a poll of the store as
    /// the fallback — then report its outcome to the execution.
    pub(super) fn watch(&self, analysis: String, tx: Events) {
        let store = Arc::clone(&self.store);
        let poll = self.settings.analysis_poll;
        let clock = self.settings.clock.clone();
        // Subscribed before the first read, so an end between the read and the wait wakes.
        let mut ended = self.analyses.subscribe_ended();
        self.analyses.submit(analysis.clone());
        tokio::spawn(async move {
            let mut first = true;
            loop {
                if !first {
                    let wait = async {
                        loop {
                            match ended.recv().await {
                                Ok(a) if a == analysis => return,
                                Ok(_) => {}
                                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                                    return;
                                }
                                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                                    std::future::pending::<()>().await
                                }
                            }
                        }
                    };
                    tokio::select! {
                        _ = wait => {}
                        _ = tokio::time::sleep(poll) => {}
                    }
                }
                first = false;
                let key = analysis.clone();
                let rec = blocking(&store, move |s| s.get_analysis(&key)).await;
                let (outcome, summary) = match rec {
                    Ok(Some(r)) if !r.status.is_final() => {
                        if tx.is_closed() {
                            return;
                        }
                        continue;
                    }
                    Ok(Some(r)) => {
                        let outcome = outcome_of(r.status, r.verdict.as_deref(), &r.report);
                        (outcome, analysis_summary(&r))
                    }
                    Ok(None) => (
                        AnalysisOutcome::NoVerdict,
                        format!("analysis {analysis} is gone"),
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read an analysis; retrying");
                        continue;
                    }
                };
                let _ = tx.send((
                    Event::AnalysisDone {
                        now: clock.now_s(),
                        outcome,
                        summary,
                    },
                    None,
                ));
                return;
            }
        });
    }
}

/// The event log's entries of a transition: one per note.
fn transition_events(id: &str, spec: &Pipeline, t: &Transition) -> Vec<ExecutionEvent> {
    t.notes
        .iter()
        .map(|n| ExecutionEvent {
            execution_id: id.to_string(),
            seq: 0,
            at_ms: (n.at * 1000.0) as i64,
            kind: n.what.clone(),
            detail: json!({
                "target": spec.targets.get(n.target).map(|t| t.name.clone()),
                "stage": spec.stages.get(n.stage).map(|s| s.name.clone()),
                "detail": n.detail,
                "split": t.next.split,
                "analysis": n.analysis,
            }),
        })
        .collect()
}

/// Timers belong to the phase: the new phase's own wake-up (from its actions, or the one
/// it keeps, e.g. a judgment's deadline after an early tick). (Not for a stage about to
/// be entered: its transition says when, and a paused execution waits for `resume`, not
/// for a timer.)
fn next_wake(spec: &Pipeline, exec: &Execution, actions: &[Action]) -> Option<f64> {
    let kept = if exec.phase == Phase::Entering {
        Vec::new()
    } else {
        exec.pending(spec)
    };
    actions
        .iter()
        .chain(kept.iter())
        .filter_map(|a| match a {
            Action::WakeAt { at } => Some(*at),
            _ => None,
        })
        .min_by(f64::total_cmp)
}

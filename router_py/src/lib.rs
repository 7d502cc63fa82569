//! The thin PyO3 binding of `router_core` as `ccroute._core`. Everything crosses as bytes;
//! core errors become Python exceptions here and nowhere else.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyDict, PyList};

use router_core::codec::{decode_json, decode_msgpack, encode_json, encode_msgpack_into};
use router_core::snapshot::{Pace, SnapshotJob};
use router_core::{Config, CoreError, Engine};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

extern "C" {
    /// mimalloc's own: free what the calling thread's heap holds unused and return the
    /// pages to the system now (it otherwise waits for later allocator activity).
    fn mi_collect(force: bool);
    /// mimalloc's own: set one of its options (`mi_option_t`, a C enum) at run time.
    fn mi_option_set(option: std::os::raw::c_int, value: std::os::raw::c_long);
}

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_t` (include/mimalloc.h).
const MI_OPTION_PURGE_DELAY: std::os::raw::c_int = 15;
/// mimalloc v3's default purge delay, in milliseconds.
const PURGE_DELAY_DEFAULT_MS: std::os::raw::c_long = 1_000;
/// "Never by itself" (about 11 days): freed pages stay committed until a forced
/// `mi_collect`. A negative delay would not do: mimalloc then never marks freed pages
/// for purging, and a forced collect has nothing to return either.
const PURGE_DELAY_HELD_MS: std::os::raw::c_long = 1_000_000_000;

/// The last snapshot's buffer, kept for the next one (`SnapshotJob.encode_buffer`).
///
/// A new block of tens of megabytes every 20 s, with freed memory kept for reuse
/// (`keep_freed_memory`), was placed now and then beside the last one instead of in it:
/// the soak's service grew twice an hour by 32-38 MB that it then kept. Written into the
/// same block, a snapshot touches the same pages each time. `release_memory` lets it go.
static SPARE_SNAPSHOT_BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());

fn spare_snapshot_buffer() -> std::sync::MutexGuard<'static, Vec<u8>> {
    // A panic while it was held left a valid Vec (at worst an empty one).
    SPARE_SNAPSHOT_BUFFER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Give memory the allocator holds but no longer uses back to the system.
fn collect_memory() {
    // SAFETY: mi_collect only walks and purges the allocator's own free lists.
    unsafe { mi_collect(true) }
}

pyo3::create_exception!(
    _core,
    CoreErrorPy,
    PyException,
    "A configuration or snapshot the core cannot use."
);

fn to_py(e: CoreError) -> PyErr {
    CoreErrorPy::new_err(e.to_string())
}

#[pyclass(name = "Core", module = "ccroute._core")]
struct Core {
    engine: Engine,
}

#[pymethods]
impl Core {
    #[new]
    fn new(config: &[u8]) -> PyResult<Self> {
        let cfg = Config::from_msgpack(config).map_err(to_py)?;
        Ok(Core {
            engine: Engine::new(&cfg).map_err(to_py)?,
        })
    }

    #[staticmethod]
    fn restore(config: &[u8], snapshot: &[u8]) -> PyResult<Self> {
        let cfg = Config::from_msgpack(config).map_err(to_py)?;
        Ok(Core {
            engine: Engine::restore(&cfg, snapshot).map_err(to_py)?,
        })
    }

    fn snapshot<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.engine.snapshot())
    }

    /// The state to snapshot, taken now (quickly); `encode()` on it, from any thread,
    /// writes the bytes with the GIL released while the engine goes on, resting `rest_ms`
    /// after every `busy_ms` of work (0: no rests) until `hurry()`.
    #[pyo3(signature = (busy_ms = 0.0, rest_ms = 0.0))]
    fn snapshot_job(&self, busy_ms: f64, rest_ms: f64) -> PyResult<SnapshotJobPy> {
        let ms = |v: f64| {
            Duration::try_from_secs_f64(v / 1000.0)
                .map_err(|_| PyValueError::new_err(format!("not a duration in ms: {v}")))
        };
        Ok(SnapshotJobPy {
            job: Mutex::new(Some(self.engine.snapshot_job())),
            pace: Arc::new(Pace::new(ms(busy_ms)?, ms(rest_ms)?)),
        })
    }

    fn apply_msgpack<'py>(&mut self, py: Python<'py>, event: &[u8]) -> Bound<'py, PyBytes> {
        let mut out = Vec::new();
        self.engine.apply_msgpack(event, &mut out);
        let mut buf = Vec::with_capacity(256);
        encode_msgpack_into(&mut buf, &out);
        PyBytes::new(py, &buf)
    }

    fn apply_json<'py>(&mut self, py: Python<'py>, event: &[u8]) -> Bound<'py, PyBytes> {
        let mut out = Vec::new();
        self.engine.apply_json(event, &mut out);
        PyBytes::new(py, &encode_json(&out))
    }

    fn apply_batch_msgpack<'py>(
        &mut self,
        py: Python<'py>,
        events: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        let buf = self.engine.apply_batch_msgpack(events);
        Ok(PyBytes::new(py, &buf))
    }

    fn apply_payloads<'py>(
        &mut self,
        py: Python<'py>,
        payloads: Vec<PyBackedBytes>,
        json: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut results: Vec<Bound<'py, PyBytes>> = Vec::with_capacity(payloads.len());
        // Borrowed, not copied: the payloads stay Python bytes objects.
        let slices = payloads.iter().map(|p| -> &[u8] { p });
        if json {
            self.engine.apply_each(slices, decode_json, |out| {
                results.push(PyBytes::new(py, &encode_json(out)));
            });
        } else {
            self.engine.apply_each(slices, decode_msgpack, |out| {
                let mut buf = Vec::with_capacity(256);
                encode_msgpack_into(&mut buf, out);
                results.push(PyBytes::new(py, &buf));
            });
        }
        PyList::new(py, results)
    }

    fn apply_jsonl<'py>(&mut self, py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.engine.apply_jsonl(data))
    }

    #[getter]
    fn clock_ms(&self) -> i64 {
        self.engine.clock()
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let e = &self.engine;
        let s = e.stats();
        let d = PyDict::new(py);
        d.set_item("inputs", s.inputs)?;
        d.set_item("decisions", s.decisions)?;
        d.set_item("rejected", s.rejected)?;
        d.set_item("duplicates", s.duplicates)?;
        d.set_item("late_events", s.late_events)?;
        d.set_item("offers", s.offers)?;
        d.set_item("assigned", s.assigned)?;
        d.set_item("completed", s.completed)?;
        d.set_item("abandoned", s.abandoned)?;
        d.set_item("expired", s.expired)?;
        d.set_item("waiting", e.waiting_count())?;
        d.set_item("open_contacts", e.open_contacts())?;
        d.set_item("offered", e.offered_count())?;
        d.set_item("agents", e.agent_count())?;
        d.set_item("agents_available", e.available_agents())?;
        d.set_item("agent_groups", e.group_count())?;
        d.set_item("contact_classes", e.class_count())?;
        d.set_item("clock_ms", e.clock())?;
        Ok(d)
    }
}

/// Limits to hold encoded inputs to, without decoding them (a flat scan, no recursion).
/// `check_json` and `check_msgpack` answer `None` when the input is within them, else
/// `(limit name or None, message)`; the name is None when a MessagePack payload is not one
/// whole value (truncated, bytes after it).
#[pyclass(name = "InputLimits", module = "ccroute._core", frozen)]
struct InputLimits {
    limits: router_core::limits::Limits,
}

type Found = Option<(Option<&'static str>, String)>;

fn found(checked: Result<(), router_core::limits::Violation>) -> Found {
    checked
        .err()
        .map(|v| (v.limit.map(|x| x.name()), v.message))
}

#[pymethods]
impl InputLimits {
    #[new]
    fn new(max_bytes: usize, max_depth: usize, max_string_bytes: usize, max_items: usize) -> Self {
        InputLimits {
            limits: router_core::limits::Limits {
                max_bytes,
                max_depth,
                max_string_bytes,
                max_items,
            },
        }
    }

    fn check_json(&self, data: &[u8]) -> Found {
        found(router_core::limits::scan_json(data, &self.limits))
    }

    fn check_msgpack(&self, data: &[u8]) -> Found {
        found(router_core::limits::scan_msgpack(data, &self.limits))
    }
}

/// The core's own input limits, by their documented names (`docs/events.md`).
#[pyfunction]
fn core_limits<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
    use router_core::limits as l;
    let d = PyDict::new(py);
    d.set_item("max_input_bytes", l::MAX_INPUT_BYTES)?;
    d.set_item("max_depth", l::MAX_DEPTH)?;
    d.set_item("max_string_bytes", l::MAX_STRING_BYTES)?;
    d.set_item("max_items", l::MAX_ITEMS)?;
    d.set_item("max_echo_bytes", l::MAX_ECHO_BYTES)?;
    d.set_item("max_message_bytes", l::MAX_MESSAGE_BYTES)?;
    d.set_item("default_max_agents", l::DEFAULT_MAX_AGENTS)?;
    Ok(d)
}

/// A snapshot taken by `Core.snapshot_job`, to be encoded once.
#[pyclass(name = "SnapshotJob", module = "ccroute._core")]
struct SnapshotJobPy {
    job: Mutex<Option<SnapshotJob>>,
    pace: Arc<Pace>,
}

#[pymethods]
impl SnapshotJobPy {
    /// The snapshot's bytes (the same as `Core.snapshot()` when the job was taken). The
    /// GIL is released while they are written and copied: call it from a worker thread
    /// and the event loop keeps running.
    fn encode<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.encode_vec(py)?;
        large_bytes(py, bytes)
    }

    /// The same bytes, not copied into a Python `bytes`: an object to read through the
    /// buffer protocol (`memoryview`), whose memory the engine's allocator holds. A
    /// service that snapshots every few seconds saves a copy of tens of megabytes each
    /// time, and, with freed memory kept (`keep_freed_memory`), reuses the same pages.
    ///
    /// Written into the last such buffer once it is gone, when it has room (see
    /// `snapshot_spare_bytes`).
    fn encode_buffer(&self, py: Python<'_>) -> PyResult<SnapshotBuffer> {
        Ok(SnapshotBuffer {
            bytes: self.encode_vec_into(py, true)?,
        })
    }

    /// No more rests: the encoding in progress (or to come) runs at full speed, as a stop
    /// that waits for it wants.
    fn hurry(&self) {
        self.pace.hurry();
    }
}

impl SnapshotJobPy {
    fn encode_vec(&self, py: Python<'_>) -> PyResult<Vec<u8>> {
        self.encode_vec_into(py, false)
    }

    fn encode_vec_into(&self, py: Python<'_>, reuse: bool) -> PyResult<Vec<u8>> {
        let job = self
            .job
            .lock()
            .map_err(|_| CoreErrorPy::new_err("a snapshot encoding failed on this job"))?
            .take()
            .ok_or_else(|| CoreErrorPy::new_err("this snapshot job was encoded already"))?;
        let pace = Arc::clone(&self.pace);
        Ok(py.allow_threads(move || {
            let buf = if reuse {
                std::mem::take(&mut *spare_snapshot_buffer())
            } else {
                Vec::new()
            };
            job.encode_paced_into(&pace, buf)
        }))
    }
}

/// A snapshot's bytes held by the engine's allocator, read-only through the buffer
/// protocol (`SnapshotJob.encode_buffer`).
#[pyclass(name = "SnapshotBuffer", module = "ccroute._core", frozen)]
struct SnapshotBuffer {
    bytes: Vec<u8>,
}

#[pymethods]
impl SnapshotBuffer {
    /// # Safety
    ///
    /// Called by CPython with a `Py_buffer` to fill; the bytes never change or move while
    /// the object lives, and the view holds a reference to the object.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut pyo3::ffi::Py_buffer,
        flags: std::os::raw::c_int,
    ) -> PyResult<()> {
        let bytes = &slf.get().bytes;
        let len = isize::try_from(bytes.len())
            .map_err(|_| CoreErrorPy::new_err("a snapshot larger than the address space"))?;
        // readonly = 1: a request for a writable buffer fails with BufferError.
        let filled = pyo3::ffi::PyBuffer_FillInfo(
            view,
            slf.as_ptr(),
            bytes.as_ptr() as *mut std::os::raw::c_void,
            len,
            1,
            flags,
        );
        if filled == -1 {
            return Err(PyErr::fetch(slf.py()));
        }
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, _view: *mut pyo3::ffi::Py_buffer) {}

    fn __len__(&self) -> usize {
        self.bytes.len()
    }
}

impl Drop for SnapshotBuffer {
    /// Kept for the next snapshot (the larger of this and any kept before).
    fn drop(&mut self) {
        let bytes = std::mem::take(&mut self.bytes);
        let mut spare = spare_snapshot_buffer();
        if bytes.capacity() > spare.capacity() {
            let smaller = std::mem::replace(&mut *spare, bytes);
            drop(spare); // the lock is not needed to free the smaller one
            drop(smaller);
        }
    }
}

/// Tens of megabytes as a Python `bytes`, with the GIL held only to allocate the object.
///
/// `PyBytes::new_with` zeroes the buffer before filling it, with the GIL held: for a
/// 43 MB snapshot that was 22 ms on a quiet machine and up to 120 ms in the soak (every
/// page faulted in while the event loop's thread waited for the GIL), the soak's largest
/// stall. Here the object is allocated uninitialised (a fresh mapping, already zero), and
/// the copy, the page faults and freeing the encoder's buffer happen with the GIL released.
fn large_bytes(py: Python<'_>, bytes: Vec<u8>) -> PyResult<Bound<'_, PyBytes>> {
    let len = isize::try_from(bytes.len())
        .map_err(|_| CoreErrorPy::new_err("a snapshot larger than the address space"))?;
    // SAFETY: a null source asks CPython for an uninitialised bytes object of `len` bytes;
    // the returned reference is owned (or null with an exception set, turned into Err).
    let out = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            pyo3::ffi::PyBytes_FromStringAndSize(std::ptr::null(), len),
        )?
        .downcast_into_unchecked::<PyBytes>()
    };
    // SAFETY: the object is new and referenced only here, so no other thread reads its
    // buffer while it is written; the buffer holds `len` bytes (plus CPython's NUL).
    let dst = unsafe { pyo3::ffi::PyBytes_AsString(out.as_ptr()) } as usize;
    py.allow_threads(move || {
        // SAFETY: see above; source and destination are distinct allocations.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst as *mut u8, bytes.len()) };
        drop(bytes);
        // A snapshot's buffers are as large as the state: returned now, not held until
        // the allocator next runs on this (worker) thread, which may be never. (The
        // service reads its snapshots through `encode_buffer` and releases once idle.)
        collect_memory();
    });
    Ok(out)
}

/// Whether memory the engine frees stays with its allocator, for reuse, until
/// `release_memory` (`True`), or goes back to the system by itself a second after it is
/// freed (`False`, mimalloc's default). Process-wide.
///
/// A long-running service wants `True`: a snapshot every 20 s frees and allocates tens of
/// megabytes, and on a virtual machine every page that comes back costs a page fault of
/// 8-16 us (measured on the development VM), 15 ms of the event loop's own time for one
/// snapshot's copies. The service releases when it is idle instead.
#[pyfunction]
fn keep_freed_memory(keep: bool) {
    let delay = if keep {
        PURGE_DELAY_HELD_MS
    } else {
        PURGE_DELAY_DEFAULT_MS
    };
    // SAFETY: a plain option store; mimalloc reads the option at its next purge decision.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, delay) }
}

/// Return memory the engine's allocator holds unused to the system: the buffer kept for
/// the next snapshot, what the calling thread's heap holds, and every page freed anywhere
/// in the process that is waiting to be returned (see `keep_freed_memory`). Runs with the
/// GIL released.
#[pyfunction]
fn release_memory(py: Python<'_>) {
    py.allow_threads(|| {
        drop(std::mem::take(&mut *spare_snapshot_buffer()));
        collect_memory();
    });
}

/// Bytes held for the next snapshot's encoding: the last `SnapshotBuffer`'s block once
/// it is gone, until `release_memory` (0 when none is held).
#[pyfunction]
fn snapshot_spare_bytes() -> usize {
    spare_snapshot_buffer().capacity()
}

/// A seeded benchmark workload: (configuration as JSON, inputs as one MessagePack array).
#[pyfunction]
fn generate_workload<'py>(
    py: Python<'py>,
    agents: usize,
    events: usize,
    seed: u64,
) -> (String, Bound<'py, PyBytes>) {
    let w = router_core::workload::generate(&router_core::workload::WorkloadSpec::standard(
        agents, events, seed,
    ));
    let bytes = w.inputs_msgpack();
    (w.config_json, PyBytes::new(py, &bytes))
}

/// The public holidays of a calendar (`FI`, `SE` or `none`) in a year, in date order, as
/// (year, month, day, English name): router_core's calendar, the only one in ccroute.
#[pyfunction]
fn holidays(calendar: &str, year: i32) -> PyResult<Vec<(i32, u32, u32, &'static str)>> {
    use chrono::Datelike;
    use router_core::calendar::Calendar;
    let cal = Calendar::from_name(calendar).ok_or_else(|| {
        PyValueError::new_err(format!(
            "unknown holiday calendar {calendar:?}; use FI, SE or none"
        ))
    })?;
    if !(1..=9999).contains(&year) {
        return Err(PyValueError::new_err(format!(
            "year {year} is outside 1-9999"
        )));
    }
    Ok(router_core::calendar::holidays(cal, year)
        .into_iter()
        .map(|(d, name)| (d.year(), d.month(), d.day(), name))
        .collect())
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Core>()?;
    m.add_class::<SnapshotJobPy>()?;
    m.add_class::<SnapshotBuffer>()?;
    m.add_function(wrap_pyfunction!(generate_workload, m)?)?;
    m.add_function(wrap_pyfunction!(holidays, m)?)?;
    m.add_class::<InputLimits>()?;
    m.add_function(wrap_pyfunction!(core_limits, m)?)?;
    m.add_function(wrap_pyfunction!(release_memory, m)?)?;
    m.add_function(wrap_pyfunction!(keep_freed_memory, m)?)?;
    m.add_function(wrap_pyfunction!(snapshot_spare_bytes, m)?)?;
    m.add("CoreError", m.py().get_type::<CoreErrorPy>())?;
    Ok(())
}

//! Where the engine's work runs: on scoped threads where the target has them, in turn on the calling thread
//! where it has none (wasm32 in a browser, where `std::thread::spawn` always fails).
//!
//! For: the fork-join sites (packs compiled one a thread, a table return's records checked in runs), which
//! call [`scope`] as they would `std::thread::scope` and get the same results in the same order either way.
//!
//! Not for: the bulk pipelines whose workers wait on channels fed by the calling thread; run in turn they would
//! wait forever, so those take a path of their own on such a target (`validate::bulk`).

#[cfg(not(target_family = "wasm"))]
pub(crate) use std::thread::scope;

#[cfg(target_family = "wasm")]
pub(crate) use in_turn::scope;

#[cfg(target_family = "wasm")]
mod in_turn {
    use std::marker::PhantomData;

    /// A scope whose `spawn` runs the work at once, on the calling thread.
    pub(crate) struct Scope<'scope, 'env: 'scope> {
        scope: PhantomData<&'scope mut &'scope ()>,
        env: PhantomData<&'env mut &'env ()>,
    }

    /// The result of work already done; `join` gives it as a thread's join would.
    pub(crate) struct ScopedJoinHandle<'scope, T> {
        result: T,
        scope: PhantomData<&'scope ()>,
    }

    impl<T> ScopedJoinHandle<'_, T> {
        /// Never an `Err`: a panic in the work aborts (wasm32 is built with `panic = abort`) before it returns.
        pub(crate) fn join(self) -> std::thread::Result<T> {
            Ok(self.result)
        }
    }

    impl<'scope> Scope<'scope, '_> {
        pub(crate) fn spawn<F, T>(&'scope self, work: F) -> ScopedJoinHandle<'scope, T>
        where
            F: FnOnce() -> T + Send + 'scope,
            T: Send + 'scope,
        {
            ScopedJoinHandle { result: work(), scope: PhantomData }
        }
    }

    /// `std::thread::scope`'s signature, the work run in turn.
    pub(crate) fn scope<'env, F, T>(f: F) -> T
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
    {
        f(&Scope { scope: PhantomData, env: PhantomData })
    }
}

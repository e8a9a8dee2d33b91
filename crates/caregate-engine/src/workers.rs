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

// Compiled natively too under test, so that its results are held to `std::thread::scope`'s.
#[cfg(any(target_family = "wasm", test))]
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

#[cfg(test)]
mod tests {
    /// The same fork-join as the packs' compilation and the table records': runs of items, a handle each,
    /// joined in order.
    fn squares_by_runs(items: &[u64]) -> Vec<u64> {
        std::thread::scope(|scope| {
            let handles: Vec<_> =
                items.chunks(3).map(|run| scope.spawn(move || run.iter().map(|n| n * n).collect::<Vec<_>>())).collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
        })
    }

    #[test]
    fn work_run_in_turn_gives_what_threads_give_in_the_same_order() {
        let items: Vec<u64> = (1..=10).collect();
        let in_turn: Vec<u64> = super::in_turn::scope(|scope| {
            let handles: Vec<_> =
                items.chunks(3).map(|run| scope.spawn(move || run.iter().map(|n| n * n).collect::<Vec<_>>())).collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
        });
        assert_eq!(in_turn, squares_by_runs(&items));
        assert_eq!(in_turn[..3], [1, 4, 9]);
    }
}

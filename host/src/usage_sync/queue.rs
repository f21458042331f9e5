//! Which service is called next: one queue per module, taken in turn, each
//! module held to a fair share of the concurrency. Without the share, the
//! services of a slowly paced provider would fill every slot waiting for
//! their turn while another provider's services sat idle behind them.

use std::collections::VecDeque;

/// Work waiting to start, by module, and what each module has in flight.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    /// In order of first appearance.
    modules: Vec<ModuleQueue<T>>,
    /// Where the next turn starts looking.
    cursor: usize,
}

#[derive(Debug)]
struct ModuleQueue<T> {
    module: String,
    waiting: VecDeque<T>,
    in_flight: usize,
}

impl<T> Queue<T> {
    /// An empty queue.
    pub(crate) fn new() -> Queue<T> {
        Queue {
            modules: Vec::new(),
            cursor: 0,
        }
    }

    /// Adds work behind the module's other work.
    pub(crate) fn push_back(&mut self, module: &str, item: T) {
        self.module(module).waiting.push_back(item);
    }

    /// Adds work ahead of the module's other work (a retry, due now).
    pub(crate) fn push_front(&mut self, module: &str, item: T) {
        self.module(module).waiting.push_front(item);
    }

    /// The next work to start, counted in flight until
    /// [`Queue::finished`]; `None` when `concurrency` calls are in flight,
    /// nothing waits, or every module with waiting work has its share.
    pub(crate) fn next(&mut self, concurrency: usize) -> Option<T> {
        if self.in_flight() >= concurrency || self.modules.is_empty() {
            return None;
        }
        let busy = self
            .modules
            .iter()
            .filter(|m| !m.waiting.is_empty() || m.in_flight > 0)
            .count()
            .max(1);
        let share = (concurrency / busy).max(1);
        let count = self.modules.len();
        for offset in 0..count {
            let index = (self.cursor + offset) % count;
            let queue = &mut self.modules[index];
            if queue.in_flight < share
                && let Some(item) = queue.waiting.pop_front()
            {
                queue.in_flight += 1;
                self.cursor = index + 1;
                return Some(item);
            }
        }
        None
    }

    /// Marks one of the module's calls as no longer in flight.
    pub(crate) fn finished(&mut self, module: &str) {
        let queue = self.module(module);
        queue.in_flight = queue.in_flight.saturating_sub(1);
    }

    /// Work started and not finished, over every module.
    pub(crate) fn in_flight(&self) -> usize {
        self.modules.iter().map(|m| m.in_flight).sum()
    }

    fn module(&mut self, module: &str) -> &mut ModuleQueue<T> {
        let index = match self.modules.iter().position(|m| m.module == module) {
            Some(index) => index,
            None => {
                self.modules.push(ModuleQueue {
                    module: module.to_string(),
                    waiting: VecDeque::new(),
                    in_flight: 0,
                });
                self.modules.len() - 1
            }
        };
        &mut self.modules[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_take_turns_within_their_share() {
        let mut queue = Queue::new();
        for i in 0..10 {
            queue.push_back("slow", format!("slow-{i}"));
        }
        for i in 0..3 {
            queue.push_back("quick", format!("quick-{i}"));
        }
        let mut started = Vec::new();
        while let Some(item) = queue.next(4) {
            started.push(item);
        }
        // Two modules with work, four slots: two each, alternating.
        assert_eq!(started, ["slow-0", "quick-0", "slow-1", "quick-1"]);

        queue.finished("quick");
        queue.finished("quick");
        assert_eq!(queue.next(4).as_deref(), Some("quick-2"));
        queue.finished("quick");
        // Quick is done: slow gets every slot.
        let rest: Vec<String> = std::iter::from_fn(|| queue.next(4)).collect();
        assert_eq!(rest, ["slow-2", "slow-3"]);
        assert_eq!(queue.in_flight(), 4);
    }

    #[test]
    fn a_retry_goes_first() {
        let mut queue = Queue::new();
        queue.push_back("m", 1);
        queue.push_back("m", 2);
        queue.push_front("m", 0);
        assert_eq!(queue.next(8), Some(0));
        assert_eq!(queue.next(8), Some(1));
    }
}

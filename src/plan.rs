//! The stack plan: which stacks, in which Regions, in what order.

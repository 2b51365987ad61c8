//! Stack events, and the one failure among them that explains a failed deploy.

use serde::Serialize;

/// One stack event, reduced to what we show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackEvent {
    pub id: String,
    /// Seconds since the epoch, with fractions, for ordering.
    pub timestamp: f64,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: String,
}

impl StackEvent {
    pub fn is_failure(&self) -> bool {
        self.status.ends_with("_FAILED")
    }

    /// A resource failed only because another one did, and CloudFormation gave up on it.
    fn is_cancellation(&self) -> bool {
        let reason = self.reason.to_ascii_lowercase();
        reason.contains("cancelled") || reason.contains("canceled")
    }

    fn is_stack_itself(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack"
    }
}

/// The root cause of a failed operation: the chronologically first failure of a resource
/// that is not part of the "cancelled" cascade; failing that, the first failure of any
/// kind (for example the stack's own "failed to create" summary).
pub fn first_failure(events: &[StackEvent]) -> Option<&StackEvent> {
    let mut failures: Vec<&StackEvent> = events.iter().filter(|e| e.is_failure()).collect();
    failures.sort_by(|a, b| a.timestamp.total_cmp(&b.timestamp));
    failures
        .iter()
        .find(|e| !e.is_cancellation() && !e.is_stack_itself())
        .or_else(|| failures.iter().find(|e| !e.is_cancellation()))
        .or_else(|| failures.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seconds: f64, id: &str, kind: &str, status: &str, reason: &str) -> StackEvent {
        StackEvent {
            id: format!("{id}-{seconds}"),
            timestamp: seconds,
            logical_id: id.into(),
            resource_type: kind.into(),
            status: status.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn the_cancelled_cascade_and_the_stack_summary_are_skipped() {
        // As AWS lists them: newest first.
        let events = vec![
            event(9.0, "app-db", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE", ""),
            event(6.0, "app-db", "AWS::CloudFormation::Stack", "ROLLBACK_IN_PROGRESS",
                "The following resource(s) failed to create: [Key, Cluster]. Rollback requested by user."),
            event(5.0, "Key", "AWS::KMS::Key", "CREATE_FAILED", "Resource creation cancelled"),
            event(4.0, "Cluster", "AWS::RDS::DBCluster", "CREATE_FAILED",
                "Cannot specify password for cross region replication cluster"),
            event(1.0, "Cluster", "AWS::RDS::DBCluster", "CREATE_IN_PROGRESS", ""),
        ];
        let cause = first_failure(&events).unwrap();
        assert_eq!(cause.logical_id, "Cluster");
        assert_eq!(
            cause.reason,
            "Cannot specify password for cross region replication cluster"
        );
    }

    #[test]
    fn a_stack_level_failure_is_used_when_no_resource_failed() {
        let events = vec![event(
            2.0,
            "app-db",
            "AWS::CloudFormation::Stack",
            "UPDATE_ROLLBACK_FAILED",
            "Failed to roll back",
        )];
        assert_eq!(
            first_failure(&events).unwrap().reason,
            "Failed to roll back"
        );
    }

    #[test]
    fn no_failure_no_cause() {
        let events = vec![event(1.0, "Key", "AWS::KMS::Key", "CREATE_COMPLETE", "")];
        assert!(first_failure(&events).is_none());
    }
}

//! What a change set will do, summarised for a person deciding whether to go ahead.

use std::fmt;

use serde::Serialize;

/// One resource that a change set adds, modifies or removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceChange {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// `True`, `False` or `Conditional` for modifications; empty otherwise.
    pub replacement: String,
}

impl ResourceChange {
    /// A replacement of something that holds data: the database, its key, its secret.
    pub fn replaces_data(&self) -> bool {
        const DATA: [&str; 5] = [
            "AWS::RDS::DBCluster",
            "AWS::RDS::GlobalCluster",
            "AWS::RDS::DBInstance",
            "AWS::KMS::Key",
            "AWS::SecretsManager::Secret",
        ];
        self.replacement != "False"
            && !self.replacement.is_empty()
            && DATA.contains(&self.resource_type.as_str())
            || self.action == "Remove" && DATA.contains(&self.resource_type.as_str())
    }
}

/// Every change of one stack's change set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChangeSetSummary {
    pub stack: String,
    pub region: String,
    pub changes: Vec<ResourceChange>,
}

impl ChangeSetSummary {
    fn count(&self, action: &str) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }

    pub fn destroys_data(&self) -> bool {
        self.changes.iter().any(ResourceChange::replaces_data)
    }
}

impl fmt::Display for ChangeSetSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} ({}): {} to add, {} to modify, {} to remove",
            self.stack,
            self.region,
            self.count("Add"),
            self.count("Modify"),
            self.count("Remove")
        )?;
        let id_width = self
            .changes
            .iter()
            .map(|c| c.logical_id.len())
            .max()
            .unwrap_or(0);
        let type_width = self
            .changes
            .iter()
            .map(|c| c.resource_type.len())
            .max()
            .unwrap_or(0);
        for change in &self.changes {
            let sign = match change.action.as_str() {
                "Add" => '+',
                "Remove" => '-',
                _ => '~',
            };
            let note = match change.replacement.as_str() {
                "True" => "  replaced",
                "Conditional" => "  may be replaced",
                _ => "",
            };
            let warning = if change.replaces_data() {
                "  !! DATA AT RISK: this deletes or replaces a database resource"
            } else {
                ""
            };
            let line = format!(
                "  {sign} {:<8} {:<id_width$}  {:<type_width$}{note}{warning}",
                change.action, change.logical_id, change.resource_type
            );
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: &str, id: &str, kind: &str, replacement: &str) -> ResourceChange {
        ResourceChange {
            action: action.into(),
            logical_id: id.into(),
            resource_type: kind.into(),
            replacement: replacement.into(),
        }
    }

    #[test]
    fn a_replaced_cluster_is_flagged_loudly() {
        let summary = ChangeSetSummary {
            stack: "app-prod-database-us-east-1".into(),
            region: "us-east-1".into(),
            changes: vec![
                change("Modify", "Cluster", "AWS::RDS::DBCluster", "True"),
                change("Add", "Alarm", "AWS::CloudWatch::Alarm", ""),
                change("Modify", "Function", "AWS::Lambda::Function", "False"),
            ],
        };
        assert!(summary.destroys_data());
        assert_eq!(
            summary.to_string(),
            "app-prod-database-us-east-1 (us-east-1): 1 to add, 2 to modify, 0 to remove\n\
             \x20 ~ Modify   Cluster   AWS::RDS::DBCluster     replaced  !! DATA AT RISK: this deletes or replaces a database resource\n\
             \x20 + Add      Alarm     AWS::CloudWatch::Alarm\n\
             \x20 ~ Modify   Function  AWS::Lambda::Function\n"
        );
    }

    #[test]
    fn an_ordinary_change_is_not_flagged() {
        let summary = ChangeSetSummary {
            changes: vec![change(
                "Modify",
                "Function",
                "AWS::Lambda::Function",
                "Conditional",
            )],
            ..Default::default()
        };
        assert!(!summary.destroys_data());
    }
}

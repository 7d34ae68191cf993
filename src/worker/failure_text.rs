//! What people read about a failed processing attempt: a stable code and a short zh-CN and
//! English message that never carries internal detail (file paths, database or IO error
//! text). The detail goes to the log, keyed by the job's id.

/// The zh-CN and English messages of the failure `code`; a generic pair for a code this
/// table does not know.
pub fn failure_text(code: &str) -> (&'static str, &'static str) {
    match code {
        "job.no_resource" | "job.bad_payload" => (
            "处理任务的内容不完整，无法处理",
            "the processing job is incomplete and cannot run",
        ),
        "probe.panicked" => (
            "分析文件时发生内部错误，稍后将重试",
            "an internal error stopped the analysis of the file; it will be tried again",
        ),
        "transcode.plan" => (
            "无法为该文件制定转码方案",
            "no transcoding plan fits this file",
        ),
        "transcode.source_unreadable" => (
            "文件无法解码，请检查后重新上传",
            "the file cannot be decoded; check it and upload it again",
        ),
        "transcode.failed" => (
            "转码失败，稍后将重试",
            "transcoding failed; it will be tried again",
        ),
        "qc.serialize" | "control.record_qc" => (
            "无法保存技术质检报告",
            "the technical QC report could not be saved",
        ),
        "control.record" | "queue.complete" => (
            "无法保存处理结果，稍后将重试",
            "the processing result could not be saved; it will be tried again",
        ),
        "fetch.storage" | "fetch.storage_failed" => (
            "无法保存下载的文件，稍后将重试",
            "the downloaded file could not be stored; it will be tried again",
        ),
        "source.missing" => (
            "找不到上传的源文件，请重新上传",
            "the uploaded source file is missing; upload it again",
        ),
        "source.fetch" | "source.scratch" => (
            "无法读取上传的源文件，稍后将重试",
            "the uploaded source file could not be read; it will be tried again",
        ),
        "qc.failed" => (
            "无法完成技术质检，稍后将重试",
            "the technical QC could not be completed; it will be tried again",
        ),
        "chunk.failed" => (
            "分段并行转码中有一段无法完成",
            "a chunk of the parallel transcode could not be completed",
        ),
        "chunk.join" => (
            "分段转码结果无法合并为完整的码率阶梯",
            "the chunks of the transcode do not join into a complete ladder",
        ),
        "chunk.enqueue" => (
            "无法安排分段并行转码，稍后将重试",
            "the parallel transcode could not be scheduled; it will be tried again",
        ),
        _ => ("媒体处理失败", "media processing failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_the_worker_uses_has_its_own_words_in_both_languages() {
        for code in [
            "job.no_resource",
            "job.bad_payload",
            "probe.panicked",
            "transcode.plan",
            "transcode.source_unreadable",
            "transcode.failed",
            "qc.serialize",
            "control.record_qc",
            "control.record",
            "source.missing",
            "source.fetch",
            "source.scratch",
            "queue.complete",
            "fetch.storage",
            "qc.failed",
            "chunk.failed",
            "chunk.join",
            "chunk.enqueue",
        ] {
            let (zh, en) = failure_text(code);
            assert_ne!(
                en,
                failure_text("unknown").1,
                "{code} has no words of its own"
            );
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{code}"
            );
            assert!(en.is_ascii(), "{code}");
        }
    }

    #[test]
    fn an_unknown_code_gets_the_generic_words() {
        assert_eq!(
            failure_text("something.new"),
            ("媒体处理失败", "media processing failed")
        );
    }
}

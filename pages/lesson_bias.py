"""Lesson: Bias in, bias out — label bias 0 → 0.5 → 0.9, the model judged against what people deserved."""

from ui.lessons import judge_answer, lab_answer, lesson_page

lesson_page("bias_in_bias_out", {"lab": lab_answer, "judge": judge_answer})

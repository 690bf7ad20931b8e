def execute_command_sign_above_circle_text(image, possible_answers, query, ImagePatch, VideoSegment, llm_query, bool_to_yesno, distance, best_image_match):
    # Answer is: the text of the sign, or N/A
    # Question: What does the sign above the circle say?
    image_patch = ImagePatch(image)
    circle_patches = image_patch.find("circle")
    sign_patches = image_patch.find("sign")
    if len(circle_patches) == 0 or len(sign_patches) == 0:
        return "N/A"
    circle_patch = circle_patches[0]
    for sign_patch in sign_patches:
        # above: the sign's center is higher than the circle's (y grows upwards)
        if sign_patch.vertical_center > circle_patch.vertical_center:
            return sign_patch.simple_query("What does the sign say?")
    # the sign is below the circle: no sign above it
    return "N/A"

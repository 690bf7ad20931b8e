def execute_command_digit_seven(image, possible_answers, query, ImagePatch, VideoSegment, llm_query, bool_to_yesno, distance, best_image_match):
    # Answer is: yes or no
    # Question: Is there a shape with the digit 7 on it?
    image_patch = ImagePatch(image)
    shape_patches = image_patch.find("shape")
    if len(shape_patches) == 0:
        # Nothing detected: ask about the whole image
        return image_patch.simple_query("Is there a shape with the number 7?")
    for shape_patch in shape_patches:
        # A digit only fits on a shape of some size
        if max(shape_patch.width, shape_patch.height) < 16:
            continue
        if shape_patch.verify_property("shape", "the number 7"):
            return "yes"
    return "no"
